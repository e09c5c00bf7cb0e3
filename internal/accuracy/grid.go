package accuracy

import (
	"fmt"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/simulate"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// Class is the accuracy benchmark's scenario class a scenario belongs to:
// the host model when it has one (starvation, outage, steal, liquid,
// fairness, drift for accumulating jitter, deadline-jitter), else the
// guest's workload (long, frame-paced, bursts, saturating), or
// passthrough.
func Class(sc simulate.Scenario) string {
	wl := simulate.Saturate
	if len(sc.Rings) > 0 {
		wl = sc.Rings[0].Workload.Kind
	}
	return classOf(sc.Policy, wl, sc.Jitter, sc.JitterMode, sc.StealEvery, sc.Outages)
}

// Classify names the class of the scenario p describes.
func Classify(p simulate.Params) string {
	return classOf(p.Policy, p.Workload, p.Jitter, p.JitterMode, p.StealEvery, p.Outages)
}

func classOf(pol simulate.Policy, wl simulate.WorkloadKind, jitter time.Duration, mode simulate.JitterMode, steal time.Duration, outages []simulate.Outage) string {
	if pol == simulate.None {
		return "passthrough"
	}
	for _, o := range outages {
		if o.Kind == "starve" {
			return "starvation"
		}
	}
	switch {
	case len(outages) > 0:
		return "outage"
	case steal > 0:
		return "steal"
	case wl == simulate.Long:
		return "long"
	case pol == simulate.Liquid:
		return "liquid"
	case pol == simulate.Fairness:
		return "fairness"
	case jitter > 0 && mode == simulate.Deadline:
		return "deadline-jitter"
	case jitter > 0:
		return "drift"
	}
	switch wl {
	case simulate.Frames:
		return "frame-paced"
	case simulate.Bursts:
		return "bursts"
	}
	return "saturating"
}

// Classes lists the classes in report order.
func Classes() []string {
	return []string{"saturating", "frame-paced", "bursts", "long", "passthrough",
		"drift", "deadline-jitter", "fairness", "liquid", "steal", "outage", "starvation"}
}

// Grid is the accuracy benchmark: scenarios sampled from policies strict,
// skip and none × 2, 4, 8, 16 VFs × 1, 3, 6, 12 ms slices × workloads
// saturate, frames, bursts, long × formats 4.15, 4.16, 6.17 with µs or ns
// timestamps, then each host model (HostModels) at 2, 4, 8 and 16 VFs,
// 1–8 ms slices, jitter of 50, 100 and 150 µs of both kinds, three seeds
// each. Each is seeded and named.
func Grid() []simulate.Scenario { return grid(false) }

// Quick is a subset of Grid: its first part and, of the host models, the
// first seed of 100 µs jitter at 2×6, 4×3, 8×2 and 16×1 ms, and the 5 s
// starvation (seconds to run: for tests and a first look).
func Quick() []simulate.Scenario { return grid(true) }

func grid(quick bool) []simulate.Scenario {
	var out []simulate.Scenario
	rep := 0        // repetition of a scenario with another seed
	inQuick := true // the scenario added next belongs to Quick
	add := func(p simulate.Params) {
		if quick && (!inQuick || rep > 0) {
			out = append(out, simulate.Scenario{}) // keeps the seeds and formats of Grid
			return
		}
		if p.Duration == 0 {
			// enough turns for a period fit: about 150 periods, 2–6 s
			per := time.Duration(p.VFs) * (p.Slices[0] + p.SwitchCost)
			p.Duration = min(max(150*per, 2*time.Second), 6*time.Second)
		}
		if p.Start == 0 {
			p.Start = 1437 * time.Second
		}
		p.Seed = uint64(len(out)) + 1
		gen := p.Gen.String()
		unit := "us"
		if p.Nanoseconds {
			unit = "ns"
		}
		if p.Name == "" {
			sl := "-"
			if len(p.Slices) > 0 {
				sl = fmtMS(p.Slices[0])
				if len(p.Slices) > 1 {
					sl += "+"
				}
			}
			p.Name = fmt.Sprintf("%s-%s-%dvf-%s-%s-%s-%s%s", Classify(p), p.Policy, p.VFs, sl, p.Workload, p.JobDist, gen, unit)
			if p.Policy == simulate.None {
				p.Name = fmt.Sprintf("%s-%s-%s-%s%s", Classify(p), p.Workload, p.JobDist, gen, unit)
			}
			if p.NeighbourOn > 0 {
				p.Name += "-onoff"
			}
			if len(p.Rings) >= 3 {
				p.Name += fmt.Sprintf("-%drings", len(p.Rings))
			}
			if p.Jitter > 0 {
				p.Name += fmt.Sprintf("-jitter%dus", p.Jitter/time.Microsecond)
			}
			if p.LostEvery > 0 {
				p.Name += "-lost"
			}
			if p.SwitchStep > 0 {
				p.Name += fmt.Sprintf("-step%dus", p.SwitchStep/time.Microsecond)
			}
			if len(p.Neighbours) > 0 {
				p.Name += "-asym"
			}
			if p.StealEvery > 0 {
				p.Name += fmt.Sprintf("-steal%s", fmtMS(p.StealEvery))
			}
			for _, o := range p.Outages {
				p.Name += fmt.Sprintf("-%s%s", o.Kind, o.Len)
			}
			if rep > 0 {
				p.Name += fmt.Sprintf("-r%d", rep+1)
			}
		}
		out = append(out, p.Scenario())
	}
	gens := tracepoint.Generations()
	vfsList := []int{2, 4, 8, 16}
	slices := []time.Duration{1, 3, 6, 12}
	dists := []simulate.DistKind{simulate.Const, simulate.Exp, simulate.Uniform}
	n := 0
	// Saturating: every VF count × every slice, strict and skip, one or
	// two rings, jobs a twentieth of the slice (at least 50µs).
	for _, pol := range []simulate.Policy{simulate.Strict, simulate.Skip} {
		for vi, vfs := range vfsList {
			for si, sl := range slices {
				if (vi+si)%2 == 1 && pol == simulate.Skip {
					continue // skip: half the cells
				}
				slice := sl * time.Millisecond
				rings := []string{"gfx"}
				if n%2 == 0 {
					// glmark2-like: gfx plus short sdma copies
					rings = []string{"gfx", "sdma0"}
				}
				add(simulate.Params{VFs: vfs, Slices: []time.Duration{slice}, SwitchCost: 200 * time.Microsecond,
					Policy: pol, NeighbourLoad: 0.6, Workload: "saturate", Rings: rings,
					Job: max(slice/20, 50*time.Microsecond), JobDist: dists[n%3],
					Gen: gens[n%3], Nanoseconds: n%2 == 1})
				n++
			}
		}
	}
	// Frame-paced: 60 fps, 8 jobs per frame, on strict and skip hosts.
	for _, pol := range []simulate.Policy{simulate.Strict, simulate.Skip} {
		for _, c := range []struct {
			vfs int
			sl  time.Duration
		}{{2, 6}, {4, 3}, {8, 1}, {2, 12}} {
			add(simulate.Params{VFs: c.vfs, Slices: []time.Duration{c.sl * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
				Policy: pol, NeighbourLoad: 0.6, Workload: "frames", Rings: []string{"gfx", "sdma0"},
				Job: 300 * time.Microsecond, JobDist: "uniform", FPS: 60, JobsPerFrame: 8,
				Gen: gens[n%3], Nanoseconds: n%2 == 1, Duration: 4 * time.Second})
			n++
		}
	}
	// Bursts with idle gaps.
	for _, c := range []struct {
		pol simulate.Policy
		vfs int
		sl  time.Duration
	}{{simulate.Strict, 2, 6}, {simulate.Strict, 4, 3}, {simulate.Skip, 2, 6}, {simulate.Skip, 8, 1}} {
		add(simulate.Params{VFs: c.vfs, Slices: []time.Duration{c.sl * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
			Policy: c.pol, NeighbourLoad: 0.6, Workload: "bursts", Rings: []string{"gfx"},
			Job: 300 * time.Microsecond, JobDist: "exp",
			Gen: gens[n%3], Nanoseconds: n%2 == 1, Duration: 3 * time.Second})
		n++
	}
	// Long jobs only (longer than a slice).
	for _, c := range []struct {
		pol simulate.Policy
		vfs int
		sl  time.Duration
	}{{simulate.Strict, 2, 6}, {simulate.Strict, 4, 3}, {simulate.Skip, 2, 1}} {
		add(simulate.Params{VFs: c.vfs, Slices: []time.Duration{c.sl * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
			Policy: c.pol, NeighbourLoad: 0.6, Workload: "long", Rings: []string{"gfx"},
			JobDist: "uniform", Gen: gens[n%3], Nanoseconds: n%2 == 1, Duration: 2 * time.Second})
		n++
	}
	// Passthrough: saturating, frame-paced and bursts, never switched out.
	for _, wl := range []simulate.WorkloadKind{simulate.Saturate, simulate.Frames, simulate.Bursts} {
		add(simulate.Params{Policy: simulate.None, VFs: 1, Workload: wl, Rings: []string{"gfx", "sdma0"},
			Job: 300 * time.Microsecond, JobDist: "exp", FPS: 60, JobsPerFrame: 8,
			Gen: gens[n%3], Nanoseconds: n%2 == 1, Duration: 2 * time.Second})
		n++
	}
	// Asymmetric slices and lost events.
	add(simulate.Params{VFs: 3, Slices: []time.Duration{6 * time.Millisecond, 3 * time.Millisecond, 12 * time.Millisecond},
		SwitchCost: 200 * time.Microsecond, Policy: simulate.Strict, Workload: "saturate", Rings: []string{"gfx"},
		Job: 300 * time.Microsecond, JobDist: "uniform", Gen: tracepoint.Gen617, Nanoseconds: true})
	// Slice jitter and lost events, apart and together.
	for _, c := range []struct {
		jitter time.Duration
		lost   int
	}{{100 * time.Microsecond, 0}, {0, 5000}, {300 * time.Microsecond, 5000}} {
		add(simulate.Params{VFs: 2, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
			Jitter: c.jitter, Policy: simulate.Strict, Workload: "saturate", Rings: []string{"gfx", "sdma0"},
			Job: 300 * time.Microsecond, JobDist: "exp", Gen: tracepoint.GenDRM, LostEvery: c.lost})
	}
	// Three rings at once (graphics, copies, compute).
	add(simulate.Params{VFs: 4, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
		Policy: simulate.Strict, Workload: "saturate", Rings: []string{"gfx", "sdma0", "comp_1.0.0"},
		Job: 300 * time.Microsecond, JobDist: "uniform", Gen: tracepoint.Gen617})
	// The second seed article's guest: half an S7150 (2 VFs × 6 ms),
	// glmark2 with 0.2–0.5 ms gfx jobs plus sdma0 copies, Linux ≤ 4.15.
	add(simulate.Params{Name: "saturating-strict-2vf-6ms-s7150-seed-4.15us", VFs: 2, Slices: []time.Duration{6 * time.Millisecond},
		SwitchCost: 200 * time.Microsecond, Policy: simulate.Strict, Workload: "saturate", Rings: []string{"gfx", "sdma0"},
		Job: 350 * time.Microsecond, JobDist: "uniform", Gen: tracepoint.GenAMD})
	// Heavier jobs (a tenth of the slice, exponential) under skip: the
	// straddling job hides more of each turn.
	add(simulate.Params{VFs: 4, Slices: []time.Duration{3 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
		Policy: simulate.Skip, NeighbourLoad: 0.6, Workload: "saturate", Rings: []string{"gfx"},
		Job: 300 * time.Microsecond, JobDist: "exp", Gen: tracepoint.Gen617, Nanoseconds: true})
	// Neighbours running their own on/off benchmarks (busy 300 ms, idle
	// 200 ms): skips come in stretches, so the schedule looks fixed for a
	// while.
	for _, vfs := range []int{2, 4} {
		add(simulate.Params{VFs: vfs, Slices: []time.Duration{3 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
			Policy: simulate.Skip, NeighbourOn: 300 * time.Millisecond, NeighbourOff: 200 * time.Millisecond,
			Workload: "saturate", Rings: []string{"gfx"}, Job: 150 * time.Microsecond, JobDist: "uniform",
			Duration: 4 * time.Second, Gen: tracepoint.GenDRM})
	}
	hostModels(add, &rep, &inQuick)
	// Added last, so that the scenarios above keep their seeds: a liquid
	// host whose neighbours run on/off benchmarks, with vCPU steal on the
	// interrupt CPU (steal inside turns of whole quanta, some over
	// switch-outs); and a skipping host whose neighbours are mostly idle
	// (turns back to back, a switch straight back between them).
	for i, p := range []simulate.Params{
		{VFs: 4, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond, Policy: simulate.Liquid,
			NeighbourOn: 40 * time.Millisecond, NeighbourOff: 25 * time.Millisecond, StealEvery: 50 * time.Millisecond, StealLen: 1500 * time.Microsecond,
			Workload: "saturate", Rings: []string{"gfx"}, Job: 250 * time.Microsecond, JobDist: "uniform", Duration: 6 * time.Second,
			Gen: tracepoint.GenDRM, Nanoseconds: true},
		{VFs: 4, Slices: []time.Duration{time.Millisecond}, SwitchCost: 200 * time.Microsecond, Policy: simulate.Skip, NeighbourLoad: 0.2,
			Workload: "saturate", Rings: []string{"gfx"}, Job: 100 * time.Microsecond, JobDist: "const", Duration: 6 * time.Second,
			Gen: tracepoint.Gen617},
	} {
		inQuick = i == 0
		for rep = 0; rep < 3; rep++ {
			add(p)
		}
		rep = 0
	}
	kept := out[:0]
	for _, sc := range out {
		if sc.Name != "" {
			kept = append(kept, sc)
		}
	}
	return kept
}

// hostModels adds the host-model classes (shared/HOST-SCHEDULERS.md):
// drift (accumulating jitter, switch costs polled in 100 µs steps),
// deadline-jitter, fairness, liquid (asymmetric neighbours, some on/off),
// steal (vCPU steal on the interrupt CPU), outage (1.5 s without a turn)
// and starvation (5 s and 30 s gaps with jobs in flight). It sets
// *inQuick before each scenario it adds: whether Quick keeps it.
func hostModels(add func(simulate.Params), rep *int, inQuick *bool) {
	gens := tracepoint.Generations()
	type cell struct {
		vfs int
		sl  time.Duration
	}
	cells := []cell{{2, 6}, {4, 3}, {8, 2}, {16, 1}, {2, 1}, {2, 8}, {4, 6}, {8, 4}, {16, 2}}
	jitters := []time.Duration{50, 100, 150}
	const seeds = 3
	n := 0
	base := func(c cell) simulate.Params {
		slice := c.sl * time.Millisecond
		n++
		return simulate.Params{VFs: c.vfs, Slices: []time.Duration{slice}, SwitchCost: 200 * time.Microsecond,
			Policy: simulate.Strict, NeighbourLoad: 0.6, Workload: "saturate", Rings: []string{"gfx"},
			Job: min(max(slice/20, 50*time.Microsecond), 250*time.Microsecond), JobDist: "uniform",
			// formats rotate, shifted per cell (12 scenarios each)
			Gen: gens[(n+n/12)%3], Nanoseconds: (n+n/12)%2 == 1}
	}
	repeat := func(p simulate.Params) {
		for *rep = 0; *rep < seeds; *rep++ {
			add(p)
		}
		*rep = 0
	}
	for ci, c := range cells {
		for _, j := range jitters {
			*inQuick = ci < 4 && j == 100
			// GIM 3.0: a relative timer, switch completion polled in
			// 100 µs steps
			p := base(c)
			p.Jitter, p.JitterMode, p.SwitchStep = j*time.Microsecond, simulate.Accumulate, 100*time.Microsecond
			repeat(p)
			p = base(c)
			p.Jitter, p.JitterMode = j*time.Microsecond, simulate.Deadline
			repeat(p)
			// GIM 8 fairness: overruns charged to the next slice
			p = base(c)
			p.Policy, p.Jitter, p.SwitchStep = simulate.Fairness, j*time.Microsecond, 100*time.Microsecond
			repeat(p)
		}
		// liquid: each neighbour with its own load, a busy neighbour
		// taking whole quanta; then neighbours running on/off loads
		*inQuick = ci < 4
		p := base(c)
		p.Policy = simulate.Liquid
		for k := 1; k < c.vfs; k++ {
			p.Neighbours = append(p.Neighbours, simulate.Neighbour{Load: []float64{0.7, 0.3, 0.9, 0.5}[k%4]})
		}
		repeat(p)
		{
			*inQuick = ci == 0
			p = base(c)
			p.Policy, p.Jitter = simulate.Liquid, 50*time.Microsecond
			p.NeighbourOn, p.NeighbourOff = 40*time.Millisecond, 25*time.Millisecond
			repeat(p)
		}
		// vCPU steal: 1.5 ms episodes, 8 a second
		*inQuick = ci < 4
		p = base(c)
		p.StealEvery, p.StealLen = 125*time.Millisecond, 1500*time.Microsecond
		repeat(p)
	}
	// asymmetric neighbours: each its own slice and load, on a liquid and
	// a skipping host
	for i, pol := range []simulate.Policy{simulate.Liquid, simulate.Skip} {
		*inQuick = i == 0
		p := base(cells[1])
		p.Policy = pol
		p.Slices = []time.Duration{3 * time.Millisecond, 6 * time.Millisecond, time.Millisecond, 8 * time.Millisecond}
		p.Neighbours = []simulate.Neighbour{{Load: 0.8}, {Load: 0.3}, {On: 60 * time.Millisecond, Off: 40 * time.Millisecond}}
		repeat(p)
	}
	// host outages: 1.5 s without a turn in 6 s, work waiting
	*inQuick = true
	for _, c := range cells[:4] {
		p := base(c)
		p.Duration = 6 * time.Second
		p.Outages = []simulate.Outage{{At: 2 * time.Second, Len: 1500 * time.Millisecond, Kind: "outage"}}
		repeat(p)
	}
	// starvation: a 1/2 host whose second half comes 5 s (30 s) later,
	// jobs in flight across the gap
	for _, gap := range []time.Duration{5 * time.Second, 30 * time.Second} {
		*inQuick = gap == 5*time.Second
		p := base(cells[0])
		p.Duration = 3*time.Second + gap
		p.Outages = []simulate.Outage{{At: 1500 * time.Millisecond, Len: gap, Kind: "starve"}}
		repeat(p)
	}
}

func fmtMS(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return d.String()
}
