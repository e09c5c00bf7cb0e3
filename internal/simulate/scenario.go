package simulate

import (
	"fmt"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/tracefs"
)

// Policy is the host scheduler's policy.
type Policy string

const (
	// Strict: round robin, every VF gets its turn even when idle (AMD "solid").
	Strict Policy = "strict"
	// Skip: a neighbour's turn is skipped when it is idle (AMD "liquid",
	// NVIDIA best effort).
	Skip Policy = "skip"
	// None: passthrough, the VF is always active.
	None Policy = "none"
)

// ParsePolicy reads "strict", "skip" or "none" (also "solid", "liquid",
// "passthrough").
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "strict", "solid", "fixed":
		return Strict, nil
	case "skip", "liquid", "variable":
		return Skip, nil
	case "none", "passthrough":
		return None, nil
	}
	return "", fmt.Errorf("unknown policy %q (want strict, skip or none)", s)
}

// Dist is a job-duration distribution.
type Dist struct {
	// Kind is "const", "exp" or "uniform" (Mean ± 50 %).
	Kind string
	Mean time.Duration
}

// Workload is how a ring's process submits jobs.
type Workload struct {
	// Kind is "saturate", "frames", "bursts" or "long" ("long" is
	// "saturate" whose jobs outlast a slice; set Ring.Job accordingly).
	Kind string
	// Depth is the number of jobs the process keeps submitted (saturate,
	// bursts, long); 0 means 4, at most 48.
	Depth int
	// FPS and JobsPerFrame (at most 32) pace "frames"; at most two frames
	// are in flight.
	FPS          float64
	JobsPerFrame int
	// On and Off are the burst and pause lengths of "bursts".
	On, Off time.Duration
}

// Ring is one guest ring (one drm_sched scheduler) and the process using it.
type Ring struct {
	Name string
	Comm string // submitting task; "" means "bench"
	PID  int32  // 0 means 2211
	Job  Dist
	// HWLimit is the scheduler's hardware submission limit (amdgpu: 2);
	// 0 means 2, at most 32.
	HWLimit  int
	Workload Workload
}

// Scenario is one simulated host and guest.
type Scenario struct {
	Name string
	VFs  int
	// Slices per VF (ours is Slices[0]); one value means every VF.
	Slices     []time.Duration
	SwitchCost time.Duration
	// Jitter: each turn's slice is drawn uniformly in Slice ± Jitter.
	Jitter time.Duration
	Policy Policy
	// NeighbourLoad is, for Skip, the probability that a neighbour has
	// work in a given round (its turn is skipped otherwise); 0 means 0.6.
	NeighbourLoad float64
	// NeighbourOn and NeighbourOff, for Skip, when both are set, replace
	// NeighbourLoad: each neighbour runs its own workload, busy for
	// NeighbourOn then idle for NeighbourOff (each at its own random
	// phase), so skips come in stretches as neighbours start and stop.
	NeighbourOn, NeighbourOff time.Duration
	Rings                     []Ring
	// Duration of the trace, after Warmup of unrecorded simulation
	// (0 means 50 ms).
	Duration time.Duration
	Warmup   time.Duration
	// Start is the trace clock at the trace's start, an uptime (0 means
	// 1437 s, as in the seed article's trace).
	Start time.Duration
	Seed  uint64
	// Gen and Nanoseconds choose the report text's format (WriteReport).
	Gen         tracefs.Generation
	Nanoseconds bool
	// CPUs is the guest's CPU count (0 means 4): completions are handled
	// on CPU 0, each ring's submitter runs on one of CPUs 1..CPUs-1.
	CPUs int
	// LostEvery > 0 drops a few events (1–16) after every LostEvery events
	// and emits a KindLost marker in their place.
	LostEvery int
}

func (sc *Scenario) slice(i int) time.Duration {
	if len(sc.Slices) == 0 {
		return 0
	}
	if i < len(sc.Slices) {
		return sc.Slices[i]
	}
	return sc.Slices[len(sc.Slices)-1]
}

// Validate checks the scenario and fills defaults.
func (sc *Scenario) Validate() error {
	if sc.Policy == "" {
		sc.Policy = Strict
	}
	if _, err := ParsePolicy(string(sc.Policy)); err != nil {
		return err
	}
	if sc.Policy == None {
		sc.VFs = 1
	}
	if sc.VFs < 1 {
		return fmt.Errorf("scenario %s: %d VFs (want at least 1)", sc.Name, sc.VFs)
	}
	if sc.Policy != None {
		if sc.VFs < 2 {
			return fmt.Errorf("scenario %s: policy %s needs at least 2 VFs", sc.Name, sc.Policy)
		}
		if len(sc.Slices) == 0 {
			return fmt.Errorf("scenario %s: no slice", sc.Name)
		}
		for i := 0; i < sc.VFs; i++ {
			if sc.slice(i) <= 0 {
				return fmt.Errorf("scenario %s: slice of VF %d is %v (want > 0)", sc.Name, i, sc.slice(i))
			}
			if sc.Jitter >= sc.slice(i) {
				return fmt.Errorf("scenario %s: jitter %v not below slice %v", sc.Name, sc.Jitter, sc.slice(i))
			}
		}
	}
	if sc.SwitchCost < 0 || sc.Jitter < 0 {
		return fmt.Errorf("scenario %s: negative switch cost or jitter", sc.Name)
	}
	if sc.NeighbourLoad == 0 {
		sc.NeighbourLoad = 0.6
	}
	if sc.NeighbourLoad < 0 || sc.NeighbourLoad > 1 {
		return fmt.Errorf("scenario %s: neighbour load %v outside [0,1]", sc.Name, sc.NeighbourLoad)
	}
	if sc.NeighbourOn < 0 || sc.NeighbourOff < 0 || (sc.NeighbourOn > 0) != (sc.NeighbourOff > 0) {
		return fmt.Errorf("scenario %s: neighbour on/off %v/%v (want both > 0, or both 0)", sc.Name, sc.NeighbourOn, sc.NeighbourOff)
	}
	if sc.Duration <= 0 {
		return fmt.Errorf("scenario %s: duration %v (want > 0)", sc.Name, sc.Duration)
	}
	if len(sc.Rings) == 0 {
		return fmt.Errorf("scenario %s: no ring", sc.Name)
	}
	for i := range sc.Rings {
		r := &sc.Rings[i]
		if r.Name == "" {
			return fmt.Errorf("scenario %s: ring %d has no name", sc.Name, i)
		}
		if r.Comm == "" {
			r.Comm = "bench"
		}
		if r.PID == 0 {
			r.PID = 2211
		}
		if r.HWLimit <= 0 {
			r.HWLimit = 2
		}
		if r.Job.Mean <= 0 {
			return fmt.Errorf("scenario %s: ring %s: job mean %v (want > 0)", sc.Name, r.Name, r.Job.Mean)
		}
		switch r.Job.Kind {
		case "":
			r.Job.Kind = "const"
		case "const", "exp", "uniform":
		default:
			return fmt.Errorf("scenario %s: ring %s: job distribution %q (want const, exp or uniform)", sc.Name, r.Name, r.Job.Kind)
		}
		w := &r.Workload
		if w.Kind == "" {
			w.Kind = "saturate"
		}
		if w.Depth <= 0 {
			w.Depth = 4
		}
		switch w.Kind {
		case "saturate", "long":
		case "frames":
			if w.FPS <= 0 {
				w.FPS = 60
			}
			if w.JobsPerFrame <= 0 {
				w.JobsPerFrame = 8
			}
		case "bursts":
			if w.On <= 0 {
				w.On = 200 * time.Millisecond
			}
			if w.Off <= 0 {
				w.Off = 100 * time.Millisecond
			}
		default:
			return fmt.Errorf("scenario %s: ring %s: workload %q (want saturate, frames, bursts or long)", sc.Name, r.Name, w.Kind)
		}
	}
	if sc.CPUs == 0 {
		sc.CPUs = 4
	}
	if sc.CPUs < 0 {
		return fmt.Errorf("scenario %s: %d CPUs", sc.Name, sc.CPUs)
	}
	if sc.LostEvery < 0 {
		return fmt.Errorf("scenario %s: negative lost interval", sc.Name)
	}
	return nil
}

// NominalPeriod is turn to turn in strict round robin: Σ(slice + switch cost).
func (sc *Scenario) NominalPeriod() time.Duration {
	var p time.Duration
	for i := 0; i < sc.VFs; i++ {
		p += sc.slice(i) + sc.SwitchCost
	}
	return p
}
