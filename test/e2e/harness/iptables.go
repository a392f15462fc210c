//go:build linux

package harness

import (
	"os/exec"
	"slices"
	"strings"
)

// ipTable is one table of iptables or ip6tables.
type ipTable struct{ cmd, table string }

func iptablesTables() []ipTable {
	var out []ipTable
	for _, cmd := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(cmd); err != nil {
			continue
		}
		for _, t := range []string{"filter", "nat", "mangle", "raw"} {
			out = append(out, ipTable{cmd, t})
		}
	}
	return out
}

func (t ipTable) key() string { return t.cmd + "/" + t.table }

func (t ipTable) run(args ...string) ([]byte, error) {
	return exec.Command(t.cmd, append([]string{"-w", "5", "-t", t.table}, args...)...).CombinedOutput()
}

// rules is the table's `-S` output, one rule or chain per line.
func (t ipTable) rules() []string {
	out, err := t.run("-S")
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// isOwnChain names the chains that Kubernetes and the CNI plugins create.
func isOwnChain(name string) bool {
	return strings.HasPrefix(name, "KUBE-") || strings.HasPrefix(name, "CNI-")
}

// ownChains are the table's KUBE-/CNI- chains.
func (t ipTable) ownChains() []string {
	var out []string
	for _, l := range t.rules() {
		if name, ok := strings.CutPrefix(l, "-N "); ok && isOwnChain(name) {
			out = append(out, name)
		}
	}
	return out
}

// removeChains deletes the KUBE-/CNI- chains that were not there before:
// first every rule elsewhere that jumps to one, then their rules, then the
// chains.
func (t ipTable) removeChains(before []string) {
	var drop []string
	for _, c := range t.ownChains() {
		if !slices.Contains(before, c) {
			drop = append(drop, c)
		}
	}
	if len(drop) == 0 {
		return
	}
	for _, l := range t.rules() {
		args := splitRule(l)
		if len(args) < 2 || args[0] != "-A" || slices.Contains(drop, args[1]) {
			continue
		}
		if i := slices.Index(args, "-j"); i >= 0 && i+1 < len(args) && slices.Contains(drop, args[i+1]) {
			args[0] = "-D"
			_, _ = t.run(args...)
		}
	}
	for _, c := range drop {
		_, _ = t.run("-F", c)
	}
	for _, c := range drop {
		_, _ = t.run("-X", c)
	}
}

// splitRule splits one line of `iptables -S` into arguments, honouring the
// double quotes around comments.
func splitRule(l string) []string {
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(l); i++ {
		ch := l[i]
		switch {
		case ch == '\\' && inQuote && i+1 < len(l):
			i++
			cur.WriteByte(l[i])
		case ch == '"':
			inQuote = !inQuote
			have = true
		case ch == ' ' && !inQuote:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(ch)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}
