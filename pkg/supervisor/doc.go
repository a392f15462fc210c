// Package supervisor is baton's exec mode: `baton run [flags] -- CMD
// [ARGS...]` runs an unmodified job only while this replica leads. It is an
// observer of pkg/election: Supervisor.Lead is the elector's
// OnStartedLeading.
//
// For each term Lead starts the command in a process group of its own, with
// the term in its environment (BATON_LOCK, BATON_IDENTITY, BATON_FENCE,
// BATON_TERM_START, BATON_API_URL). When the term ends, its context ends:
// Lead sends SIGTERM to the whole group at once, SIGKILL to it after
// KillGrace, reaps the child, waits until no live process of the group is
// left, and only then returns, so that the elector releases the lock after
// the job has stopped. A child that exits on its own is handled by the
// OnExit policy: OnExitExit (baton exits with the child's status),
// OnExitRestart (started again within the term, with a backoff) or
// OnExitRecampaign (the term's work ends; baton resigns and runs the child
// again on its next win).
//
// Under OnExitRestart (the wait before the next start) and OnExitRecampaign
// (Exit.HoldOff), quick exits are paced: the first exit, and any exit of a
// child that ran at least MaxRestartBackoff, is followed by no wait; each
// further exit in a row doubles the wait, from RestartBackoff up to
// MaxRestartBackoff.
//
// OnChildExit gets Lead's context: passing it to the elector's Resign makes
// Resign return as soon as the term has ended (the lock is released when
// Lead returns), and binds the resignation to this very term. It may call
// Kill, but not Stop, which waits for Lead.
//
// Wiring, in the sidecar:
//
//	sup, err := supervisor.New(supervisor.Options{..., OnChildExit: func(ctx context.Context, ex supervisor.Exit) {
//		switch ex.Policy {
//		case supervisor.OnExitRecampaign:
//			elector.Resign(ctx, ex.HoldOff) // ctx is the term's: returns once the term has ended
//		case supervisor.OnExitExit:
//			exitCode.Store(int32(ex.Status.ExitCode()))
//			stopRun() // cancel Run's context: the elector steps down and releases once Lead returns
//		}
//	}})
//	cfg.OnStartedLeading = sup.Lead
//	// SIGHUP, SIGUSR1, SIGUSR2: sup.Signal(sig). SIGTERM: cancel Run's context.
//	// A second SIGTERM: sup.Kill(), then exit.
//	// As PID 1 (or after BecomeSubreaper): go supervisor.ReapOrphans(ctx, log).
//
// What the supervisor guarantees, on Linux: while the child's group has a
// live process, Lead has not returned; and a baton killed by SIGKILL takes
// its child along (PR_SET_PDEATHSIG), so the job never runs on without a
// renewing leader. With Options.Guard, the child joins the process group of
// a guard process, which SIGKILLs that group by itself once the term's
// validity plus KillGrace has passed without a renewal, on CLOCK_BOOTTIME,
// and at once when baton dies: the job is then dead before the lease can
// expire even when baton is stopped, starved or swapped out.
//
// What escapes it:
//   - A descendant that leaves the child's process group (setsid, setpgid,
//     a shell's job control, a daemon that double-forks) receives neither
//     SIGTERM nor SIGKILL, and Lead does not wait for it: it may run on
//     after the term, next to another replica's job. Keep the job in the
//     foreground.
//   - The parent-death signal reaches only the child itself. When baton is
//     killed by SIGKILL outside a container, the child's own children live
//     on, reparented to init. Inside a container where baton is PID 1 the
//     kernel kills every process of the PID namespace when baton dies, so
//     nothing escapes there.
//   - A process in uninterruptible sleep cannot be killed until it leaves
//     it; Lead waits for the child's reap, and gives up on other members of
//     the group one second after SIGKILL, with an error in the log. The
//     elector then releases the lock after its own bound.
//   - Off Linux there is no parent-death signal and no subreaper; on
//     Windows there are no process groups, and New returns ErrUnsupported.
//
// Zombies: a process whose parent exits is handed to PID 1 (or to the
// nearest subreaper), which must wait for it, or it stays a zombie for
// ever. A baton that is a container's entrypoint is PID 1, and should run
// ReapOrphans. It reaps the orphans only, never a Supervisor's own child,
// whose status Lead needs; Lead itself reaps the zombies of its child's
// group that were handed to baton. At each SIGCHLD, ReapOrphans lists this
// process's exited children in /proc and reaps, with wait4 on each PID,
// every one that no Supervisor started: any other child that the program
// starts, through os/exec for example, is taken too.
//
// Stopping fits the elector's bounds: a stop takes KillGrace plus the
// moment SIGKILL and the reap need, and must end before another replica
// can lead, within the elector's margin LeaseTTL-RenewDeadline after a
// deadline step-down (the lease may then expire in the store) and within
// its ReleaseTimeout after a resign or shutdown (the lock is then released
// anyway). Both are 5s with election's defaults, hence DefaultKillGrace of
// 4s, which leaves a second for SIGKILL. The sidecar checks the fit, with a
// slack of a quarter of the smaller of the two (at most a second), and
// takes the longest grace that fits, at most DefaultKillGrace, when
// --kill-grace is not set; New cannot, as it does not know the elector.
package supervisor
