package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// MetaUpdate is a later run of some steps only, merged into a full run's
// results.
type MetaUpdate struct {
	Steps       []string `json:"steps"`
	Date        string   `json:"date"`
	CommandLine string   `json:"command_line"`
	Quick       bool     `json:"quick,omitempty"`
	LoadAvgBeg  string   `json:"loadavg_start"`
	LoadAvgEnd  string   `json:"loadavg_end"`
}

// mergeSteps are the steps whose figures live in fields of their own: a run
// of only these steps can keep every other figure of the results.json
// already in -out instead of writing a results.md with only its own.
var mergeSteps = map[string]func(dst, src *Results){
	"sidecar":  func(dst, src *Results) { dst.Sidecar = src.Sidecar },
	"exec":     func(dst, src *Results) { dst.Exec = src.Exec },
	"core":     func(dst, src *Results) { dst.Core = src.Core },
	"locks":    func(dst, src *Results) { dst.Locks = src.Locks },
	"schedule": func(dst, src *Results) { dst.Schedule = src.Schedule },
	"kube-lease": func(dst, src *Results) {
		dst.KubeLease = src.KubeLease
		dst.Handover = replaceSeries(dst.Handover, src.findHandover(idKubeLease))
		dst.Crash = replaceFailover(dst.Crash, src.findCrash(idKubeLease))
		dst.Idle = replaceIdle(dst.Idle, src.findIdle(idKubeLease))
	},
}

// mergePrevious returns res, or, when only steps of mergeSteps ran and dir
// holds a results.json, that file's results with the figures of the steps
// that ran replaced by res's and the run recorded in Meta.Updates.
func mergePrevious(dir string, cfg *config, res *Results) (*Results, error) {
	if cfg.only == nil {
		return res, nil
	}
	var steps []string
	for s := range cfg.only {
		if mergeSteps[s] == nil {
			return res, nil
		}
		steps = append(steps, s)
	}
	slices.Sort(steps)
	path := filepath.Join(dir, "results.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	var prev Results
	if err := json.Unmarshal(b, &prev); err != nil {
		return nil, fmt.Errorf("%s: %w (move it away to write a results.json of this run only)", path, err)
	}
	for _, s := range steps {
		mergeSteps[s](&prev, res)
	}
	m := res.Meta
	// An update of the same steps, or of fewer, is superseded.
	prev.Meta.Updates = slices.DeleteFunc(prev.Meta.Updates, func(u MetaUpdate) bool {
		for _, s := range u.Steps {
			if !slices.Contains(steps, s) {
				return false
			}
		}
		return true
	})
	prev.Meta.Updates = append(prev.Meta.Updates, MetaUpdate{Steps: steps, Date: m.Date, CommandLine: m.CommandLine, Quick: m.Quick,
		LoadAvgBeg: m.LoadAvgBeg, LoadAvgEnd: m.LoadAvgEnd})
	for _, st := range m.Steps {
		prev.Meta.Steps = slices.DeleteFunc(prev.Meta.Steps, func(x StepTime) bool { return x.Name == st.Name })
		prev.Meta.Steps = append(prev.Meta.Steps, st)
	}
	return &prev, nil
}

// replaceTool returns list with the entry of v's tool replaced by v (or
// v appended); a nil v leaves list as it is.
func replaceTool[T any](list []*T, v *T, tool func(*T) string) []*T {
	if v == nil {
		return list
	}
	list = slices.DeleteFunc(list, func(x *T) bool { return tool(x) == tool(v) })
	return append(list, v)
}

func replaceSeries(l []*LatencySeries, v *LatencySeries) []*LatencySeries {
	return replaceTool(l, v, func(s *LatencySeries) string { return s.Tool })
}

func replaceFailover(l []*FailoverSeries, v *FailoverSeries) []*FailoverSeries {
	return replaceTool(l, v, func(s *FailoverSeries) string { return s.Tool })
}

func replaceIdle(l []*IdleCost, v *IdleCost) []*IdleCost {
	return replaceTool(l, v, func(s *IdleCost) string { return s.Tool })
}
