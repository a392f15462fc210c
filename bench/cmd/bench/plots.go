package main

import (
	"fmt"
	"image/color"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// writePlots writes the PNG plots that results.md shows.
func writePlots(dir string, r *Results) error {
	for _, f := range []func(string, *Results) error{plotHandoverCDF, plotHandoverDots, plotWaiters, plotCrash, plotIdle, plotLocks} {
		if err := f(dir, r); err != nil {
			return err
		}
	}
	return nil
}

// findHandoverAny is the first tool's handovers with samples, or nil.
func (r *Results) findHandoverAny() *LatencySeries {
	for _, s := range r.Handover {
		if len(s.Samples) > 0 {
			return s
		}
	}
	return nil
}

// floorLog keeps a value plottable on a log axis.
func floorLog(v float64) float64 { return max(v, 1e-3) }

// plotHandoverCDF draws each tool's handover latency distribution.
func plotHandoverCDF(dir string, r *Results) error {
	if r.findHandoverAny() == nil {
		return nil // a run of other steps only: no plot
	}
	p := plot.New()
	p.Title.Text = "Graceful handover latency (CDF)"
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of handovers ≤ x"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = false
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	var most time.Duration
	for _, s := range r.Handover {
		most = max(most, s.Summary.Max)
	}
	// Room on the right for the legend.
	p.X.Max = msf(most) * 20
	for i, s := range r.Handover {
		if len(s.Samples) == 0 {
			continue
		}
		xs := slices.Clone(s.Samples)
		slices.Sort(xs)
		pts := make(plotter.XYs, len(xs))
		for j, d := range xs {
			pts[j].X = floorLog(msf(d))
			pts[j].Y = float64(j+1) / float64(len(xs))
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (n=%d)", s.Tool, len(xs)), l)
	}
	return p.Save(9*vg.Inch, 5*vg.Inch, filepath.Join(dir, "handover_cdf.png"))
}

type dotSeries struct {
	label  string
	values []float64 // one per name; NaN or ≤ 0 values are skipped
	shape  draw.GlyphDrawer
	color  color.Color
}

// dotPlot draws named rows with one marker per series, on a log X axis.
func dotPlot(file, title, xlabel string, names []string, series []dotSeries) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	most := 0.0
	for _, s := range series {
		for _, v := range s.values {
			most = max(most, v)
		}
	}
	// Room on the right for the legend.
	p.X.Max = most * 30
	for _, s := range series {
		var pts plotter.XYs
		for i, v := range s.values {
			if v > 0 {
				pts = append(pts, plotter.XY{X: v, Y: float64(i)})
			}
		}
		if len(pts) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		sc.GlyphStyle.Shape = s.shape
		sc.GlyphStyle.Color = s.color
		sc.GlyphStyle.Radius = vg.Points(4)
		p.Add(sc)
		p.Legend.Add(s.label, sc)
	}
	p.NominalY(names...)
	p.Y.Padding = vg.Points(10)
	return p.Save(9*vg.Inch, vg.Length(1.2+0.45*float64(len(names)))*vg.Inch, file)
}

func plotHandoverDots(dir string, r *Results) error {
	if r.findHandoverAny() == nil {
		return nil
	}
	var names []string
	var p50, p99, mx []float64
	for _, s := range r.Handover {
		names = append(names, s.Tool)
		p50 = append(p50, msf(s.Summary.P50))
		p99 = append(p99, msf(s.Summary.P99))
		mx = append(mx, msf(s.Summary.Max))
	}
	return dotPlot(filepath.Join(dir, "handover_p99.png"), "Graceful handover latency", "ms (log scale)", names, quantileDots(p50, p99, mx))
}

// quantileDots is the p50, p99 and max series of a latency dot plot.
func quantileDots(p50, p99, mx []float64) []dotSeries {
	return []dotSeries{
		{"p50", p50, draw.CircleGlyph{}, plotutil.Color(0)},
		{"p99", p99, draw.TriangleGlyph{}, plotutil.Color(1)},
		{"max", mx, draw.CrossGlyph{}, plotutil.Color(2)},
	}
}

func plotCrash(dir string, r *Results) error {
	if len(r.Crash) == 0 {
		return nil
	}
	var names []string
	var p50, p99, mx []float64
	for _, s := range r.Crash {
		names = append(names, fmt.Sprintf("%s (TTL %v)", s.Tool, s.TTL))
		p50 = append(p50, floorLog(msf(s.Overshoot.P50)))
		p99 = append(p99, floorLog(msf(s.Overshoot.P99)))
		mx = append(mx, floorLog(msf(s.Overshoot.Max)))
	}
	return dotPlot(filepath.Join(dir, "crash_overshoot.png"), "Crash failover: takeover after the lease expired (overshoot)", "ms (log scale)", names, quantileDots(p50, p99, mx))
}

func plotIdle(dir string, r *Results) error {
	if len(r.Idle) == 0 {
		return nil
	}
	var names []string
	var store, reqs, leader []float64
	for _, c := range r.Idle {
		names = append(names, c.Tool)
		store = append(store, c.WaiterStoreCmdsPerSec)
		reqs = append(reqs, c.WaiterRequestsPerSec)
		leader = append(leader, c.LeaderStoreCmdsPerMin/60)
	}
	return dotPlot(filepath.Join(dir, "idle_cost.png"), "Idle cost to the lock store", "per second (log scale)", names, []dotSeries{
		{"idle waiter: store commands/s", store, draw.CircleGlyph{}, plotutil.Color(0)},
		{"idle waiter: client requests/s", reqs, draw.TriangleGlyph{}, plotutil.Color(1)},
		{"leader: store commands/s", leader, draw.SquareGlyph{}, plotutil.Color(2)},
	})
}

func plotWaiters(dir string, r *Results) error {
	p := plot.New()
	p.Title.Text = "baton graceful handover vs number of waiters"
	p.X.Label.Text = "waiters (log scale)"
	p.Y.Label.Text = "latency (ms)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	for i, q := range []struct {
		name string
		get  func(*LatencySeries) time.Duration
	}{
		{"p50", func(s *LatencySeries) time.Duration { return s.Summary.P50 }},
		{"p99", func(s *LatencySeries) time.Duration { return s.Summary.P99 }},
		{"max", func(s *LatencySeries) time.Duration { return s.Summary.Max }},
	} {
		var pts plotter.XYs
		for _, s := range r.Waiters {
			pts = append(pts, plotter.XY{X: float64(s.Waiters), Y: msf(q.get(s))})
		}
		if len(pts) == 0 {
			return nil
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, sc.Color = plotutil.Color(i), plotutil.Color(i)
		sc.Shape = plotutil.Shape(i)
		p.Add(l, sc)
		p.Legend.Add(q.name, l, sc)
	}
	return p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, "waiters.png"))
}
