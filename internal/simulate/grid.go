package simulate

import (
	"fmt"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/tracefs"
)

// Params is a flat description of a scenario, as the simulate command's
// flags and the accuracy grid give it: one workload and one job
// distribution for every ring.
type Params struct {
	Name          string
	VFs           int
	Slices        []time.Duration // one, or one per VF (ours first)
	SwitchCost    time.Duration
	SwitchStep    time.Duration
	Jitter        time.Duration
	JitterMode    JitterMode
	Policy        Policy
	NeighbourLoad float64
	// NeighbourOn/Off (skip, liquid; both set): each neighbour is busy for
	// On then idle for Off, instead of busy at random in each round.
	NeighbourOn, NeighbourOff time.Duration
	// Neighbours give each neighbour its own load (Scenario.Neighbours).
	Neighbours []Neighbour
	// StealEvery and StealLen: vCPU steal episodes (Scenario.StealEvery).
	StealEvery, StealLen time.Duration
	// Outages: spans with no turn for our VF (Scenario.Outages).
	Outages []Outage
	Workload                  string   // saturate, frames, bursts, long
	Rings                     []string // ring names; "" → gfx
	// Job is the mean job duration of the first ring (sdma rings: a
	// third of it); 0 → 300µs, or 2.5 slices for "long".
	Job          time.Duration
	JobDist      string // const, exp, uniform
	FPS          float64
	JobsPerFrame int
	Duration     time.Duration
	Start        time.Duration
	Seed         uint64
	Gen          tracefs.Generation
	Nanoseconds  bool
	LostEvery    int
	CPUs         int // guest CPUs (0: the model's default)
}

// ringProc is the task that submits to a ring, as on the seed article's guest.
func ringProc(name string, i int) (string, int32) {
	switch {
	case strings.HasPrefix(name, "gfx"):
		return "glmark2", 2211
	case strings.HasPrefix(name, "sdma"):
		return "kworker/u8:2", 187
	case strings.HasPrefix(name, "comp"):
		return "clpeak", 2304
	}
	return "bench", int32(2400 + i)
}

// Scenario builds the scenario p describes (Validate fills the rest).
func (p Params) Scenario() Scenario {
	sc := Scenario{
		Name:          p.Name,
		VFs:           p.VFs,
		Slices:        p.Slices,
		SwitchCost:    p.SwitchCost,
		SwitchStep:    p.SwitchStep,
		Jitter:        p.Jitter,
		JitterMode:    p.JitterMode,
		Policy:        p.Policy,
		NeighbourLoad: p.NeighbourLoad,
		NeighbourOn:   p.NeighbourOn,
		NeighbourOff:  p.NeighbourOff,
		Neighbours:    p.Neighbours,
		StealEvery:    p.StealEvery,
		StealLen:      p.StealLen,
		Outages:       p.Outages,
		CPUs:          p.CPUs,
		Duration:      p.Duration,
		Start:         p.Start,
		Seed:          p.Seed,
		Gen:           p.Gen,
		Nanoseconds:   p.Nanoseconds,
		LostEvery:     p.LostEvery,
	}
	rings := p.Rings
	if len(rings) == 0 {
		rings = []string{"gfx"}
	}
	job := p.Job
	if job <= 0 {
		job = 300 * time.Microsecond
		if p.Workload == "long" && len(p.Slices) > 0 {
			job = p.Slices[0] * 5 / 2
		}
	}
	for i, name := range rings {
		comm, pid := ringProc(name, i)
		mean := job
		if strings.HasPrefix(name, "sdma") && p.Workload != "long" {
			mean = max(job/3, time.Microsecond)
		}
		w := Workload{Kind: p.Workload, FPS: p.FPS, JobsPerFrame: p.JobsPerFrame}
		if p.Workload == "frames" && i > 0 {
			// secondary rings: a copy or two per frame
			w.JobsPerFrame = max(1, p.JobsPerFrame/4)
		}
		sc.Rings = append(sc.Rings, Ring{
			Name:     name,
			Comm:     comm,
			PID:      pid,
			Job:      Dist{Kind: p.JobDist, Mean: mean},
			HWLimit:  2,
			Workload: w,
		})
	}
	return sc
}

// Class is the accuracy benchmark's scenario class a scenario belongs to.
func Class(sc Scenario) string {
	if sc.Policy == None {
		return "passthrough"
	}
	if len(sc.Rings) == 0 {
		return "saturating"
	}
	switch sc.Rings[0].Workload.Kind {
	case "frames":
		return "frame-paced"
	case "bursts":
		return "bursts"
	case "long":
		return "long"
	}
	return "saturating"
}

// Classes lists the classes in report order.
func Classes() []string {
	return []string{"saturating", "frame-paced", "bursts", "long", "passthrough"}
}

// Grid is the accuracy benchmark: scenarios sampled from policies strict,
// skip and none × 2, 4, 8, 16 VFs × 1, 3, 6, 12 ms slices × workloads
// saturate, frames, bursts, long × formats 4.15, 4.16, 6.17 with µs or ns
// timestamps. Each is seeded and named; the trace lengths keep the whole
// grid around half a minute on two cores.
func Grid() []Scenario {
	var out []Scenario
	add := func(p Params) {
		if p.Duration == 0 {
			// enough turns for a period fit: about 150 periods, 2–6 s
			per := time.Duration(p.VFs) * (p.Slices[0] + p.SwitchCost)
			p.Duration = min(max(150*per, 2*time.Second), 6*time.Second)
		}
		if p.Start == 0 {
			p.Start = 1437 * time.Second
		}
		p.Seed = uint64(len(out)) + 1
		gen := []string{"4.15", "4.16", "6.17"}[p.Gen]
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
			if p.Policy == None {
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
		}
		out = append(out, p.Scenario())
	}
	gens := []tracefs.Generation{tracefs.GenAMD, tracefs.GenDRM, tracefs.Gen617}
	vfsList := []int{2, 4, 8, 16}
	slices := []time.Duration{1, 3, 6, 12}
	dists := []string{"const", "exp", "uniform"}
	n := 0
	// Saturating: every VF count × every slice, strict and skip, one or
	// two rings, jobs a twentieth of the slice (at least 50µs).
	for _, pol := range []Policy{Strict, Skip} {
		for vi, vfs := range vfsList {
			for si, sl := range slices {
				if (vi+si)%2 == 1 && pol == Skip {
					continue // skip: half the cells
				}
				slice := sl * time.Millisecond
				rings := []string{"gfx"}
				if n%2 == 0 {
					// glmark2-like: gfx plus short sdma copies
					rings = []string{"gfx", "sdma0"}
				}
				add(Params{VFs: vfs, Slices: []time.Duration{slice}, SwitchCost: 200 * time.Microsecond,
					Policy: pol, NeighbourLoad: 0.6, Workload: "saturate", Rings: rings,
					Job: max(slice/20, 50*time.Microsecond), JobDist: dists[n%3],
					Gen: gens[n%3], Nanoseconds: n%2 == 1})
				n++
			}
		}
	}
	// Frame-paced: 60 fps, 8 jobs per frame, on strict and skip hosts.
	for _, pol := range []Policy{Strict, Skip} {
		for _, c := range []struct {
			vfs int
			sl  time.Duration
		}{{2, 6}, {4, 3}, {8, 1}, {2, 12}} {
			add(Params{VFs: c.vfs, Slices: []time.Duration{c.sl * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
				Policy: pol, NeighbourLoad: 0.6, Workload: "frames", Rings: []string{"gfx", "sdma0"},
				Job: 300 * time.Microsecond, JobDist: "uniform", FPS: 60, JobsPerFrame: 8,
				Gen: gens[n%3], Nanoseconds: n%2 == 1, Duration: 4 * time.Second})
			n++
		}
	}
	// Bursts with idle gaps.
	for _, c := range []struct {
		pol Policy
		vfs int
		sl  time.Duration
	}{{Strict, 2, 6}, {Strict, 4, 3}, {Skip, 2, 6}, {Skip, 8, 1}} {
		add(Params{VFs: c.vfs, Slices: []time.Duration{c.sl * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
			Policy: c.pol, NeighbourLoad: 0.6, Workload: "bursts", Rings: []string{"gfx"},
			Job: 300 * time.Microsecond, JobDist: "exp",
			Gen: gens[n%3], Nanoseconds: n%2 == 1, Duration: 3 * time.Second})
		n++
	}
	// Long jobs only (longer than a slice).
	for _, c := range []struct {
		pol Policy
		vfs int
		sl  time.Duration
	}{{Strict, 2, 6}, {Strict, 4, 3}, {Skip, 2, 1}} {
		add(Params{VFs: c.vfs, Slices: []time.Duration{c.sl * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
			Policy: c.pol, NeighbourLoad: 0.6, Workload: "long", Rings: []string{"gfx"},
			JobDist: "uniform", Gen: gens[n%3], Nanoseconds: n%2 == 1, Duration: 2 * time.Second})
		n++
	}
	// Passthrough: saturating, frame-paced and bursts, never switched out.
	for _, wl := range []string{"saturate", "frames", "bursts"} {
		add(Params{Policy: None, VFs: 1, Workload: wl, Rings: []string{"gfx", "sdma0"},
			Job: 300 * time.Microsecond, JobDist: "exp", FPS: 60, JobsPerFrame: 8,
			Gen: gens[n%3], Nanoseconds: n%2 == 1, Duration: 2 * time.Second})
		n++
	}
	// Asymmetric slices and lost events.
	add(Params{VFs: 3, Slices: []time.Duration{6 * time.Millisecond, 3 * time.Millisecond, 12 * time.Millisecond},
		SwitchCost: 200 * time.Microsecond, Policy: Strict, Workload: "saturate", Rings: []string{"gfx"},
		Job: 300 * time.Microsecond, JobDist: "uniform", Gen: tracefs.Gen617, Nanoseconds: true})
	// Slice jitter and lost events, apart and together.
	for _, c := range []struct {
		jitter time.Duration
		lost   int
	}{{100 * time.Microsecond, 0}, {0, 5000}, {300 * time.Microsecond, 5000}} {
		add(Params{VFs: 2, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
			Jitter: c.jitter, Policy: Strict, Workload: "saturate", Rings: []string{"gfx", "sdma0"},
			Job: 300 * time.Microsecond, JobDist: "exp", Gen: tracefs.GenDRM, LostEvery: c.lost})
	}
	// Three rings at once (graphics, copies, compute).
	add(Params{VFs: 4, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
		Policy: Strict, Workload: "saturate", Rings: []string{"gfx", "sdma0", "comp_1.0.0"},
		Job: 300 * time.Microsecond, JobDist: "uniform", Gen: tracefs.Gen617})
	// The second seed article's guest: half an S7150 (2 VFs × 6 ms),
	// glmark2 with 0.2–0.5 ms gfx jobs plus sdma0 copies, Linux ≤ 4.15.
	add(Params{Name: "saturating-strict-2vf-6ms-s7150-seed-4.15us", VFs: 2, Slices: []time.Duration{6 * time.Millisecond},
		SwitchCost: 200 * time.Microsecond, Policy: Strict, Workload: "saturate", Rings: []string{"gfx", "sdma0"},
		Job: 350 * time.Microsecond, JobDist: "uniform", Gen: tracefs.GenAMD})
	// Heavier jobs (a tenth of the slice, exponential) under skip: the
	// straddling job hides more of each turn.
	add(Params{VFs: 4, Slices: []time.Duration{3 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
		Policy: Skip, NeighbourLoad: 0.6, Workload: "saturate", Rings: []string{"gfx"},
		Job: 300 * time.Microsecond, JobDist: "exp", Gen: tracefs.Gen617, Nanoseconds: true})
	// Neighbours running their own on/off benchmarks (busy 300 ms, idle
	// 200 ms): skips come in stretches, so the schedule looks fixed for a
	// while.
	for _, vfs := range []int{2, 4} {
		add(Params{VFs: vfs, Slices: []time.Duration{3 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
			Policy: Skip, NeighbourOn: 300 * time.Millisecond, NeighbourOff: 200 * time.Millisecond,
			Workload: "saturate", Rings: []string{"gfx"}, Job: 150 * time.Microsecond, JobDist: "uniform",
			Duration: 4 * time.Second, Gen: tracefs.GenDRM})
	}
	return out
}

// Classify names the class of the scenario p describes.
func Classify(p Params) string {
	if p.Policy == None {
		return "passthrough"
	}
	switch p.Workload {
	case "frames":
		return "frame-paced"
	case "bursts":
		return "bursts"
	case "long":
		return "long"
	}
	return "saturating"
}

func fmtMS(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return d.String()
}
