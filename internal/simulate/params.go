package simulate

import (
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
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
	Outages  []Outage
	Workload WorkloadKind
	Rings    []string // ring names; "" → gfx
	// Job is the mean job duration of the first ring (sdma rings: a
	// third of it); 0 → 300µs, or 2.5 slices for "long".
	Job          time.Duration
	JobDist      DistKind
	FPS          float64
	JobsPerFrame int
	Duration     time.Duration
	Start        time.Duration
	Seed         uint64
	Gen          tracepoint.Generation
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
		if p.Workload == Long && len(p.Slices) > 0 {
			job = p.Slices[0] * 5 / 2
		}
	}
	for i, name := range rings {
		comm, pid := ringProc(name, i)
		mean := job
		if strings.HasPrefix(name, "sdma") && p.Workload != Long {
			mean = max(job/3, time.Microsecond)
		}
		w := Workload{Kind: p.Workload, FPS: p.FPS, JobsPerFrame: p.JobsPerFrame}
		if p.Workload == Frames && i > 0 {
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
