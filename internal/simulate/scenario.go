package simulate

import (
	"fmt"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// Policy is the host scheduler's policy.
type Policy string

const (
	// Strict: round robin, every VF gets its turn even when idle (AMD "solid").
	Strict Policy = "strict"
	// Skip: a neighbour's turn is skipped when it is idle (NVIDIA best
	// effort); when every neighbour is idle our VF is switched out and
	// straight back in (a Self window of one world switch).
	Skip Policy = "skip"
	// Liquid: an idle VF is skipped at no cost, and when no other VF has
	// work the running VF keeps the GPU for another whole quantum, so its
	// on-times are whole multiples of the quantum (AMD GIM 3.0 liquid,
	// GIM 8 LIQUID, Intel GuC's default). A neighbour whose work runs out
	// inside its turn is switched out early, after at least EarlySwitch
	// (GIM 8 hybrid liquid).
	Liquid Policy = "liquid"
	// Fairness: round robin as Strict, but a VF's overrun of its slice is
	// charged against its next slice, floored at half a slice, so the
	// accumulated on-time error stays bounded (GIM 8 FAIRNESS).
	Fairness Policy = "fairness"
	// None: passthrough, the VF is always active.
	None Policy = "none"
)

// EarlySwitch is how long a liquid host keeps an idle VF's empty context
// before switching it out early (GIM 8 hybrid liquid: at least 500 µs).
const EarlySwitch = 500 * time.Microsecond

// MaxAlone caps a liquid turn's whole-quantum extensions when no other VF
// has work (GIM 3.0 gives a VF alone on the runlist 500 ms); a turn is at
// most maxQuanta quanta.
const (
	MaxAlone  = 500 * time.Millisecond
	maxQuanta = 1000
)

// ParsePolicy reads "strict", "skip", "liquid", "fairness" or "none" (also
// "solid", "fixed", "variable", "fair", "passthrough").
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "strict", "solid", "fixed":
		return Strict, nil
	case "skip", "variable", "best-effort":
		return Skip, nil
	case "liquid":
		return Liquid, nil
	case "fairness", "fair":
		return Fairness, nil
	case "none", "passthrough":
		return None, nil
	}
	return "", fmt.Errorf("unknown policy %q (want strict, skip, liquid, fairness or none)", s)
}

// JitterMode is how per-switch jitter arises.
type JitterMode string

const (
	// Accumulate: each turn lasts its slice ± Jitter from the moment the
	// previous world switch completed (a relative one-shot timer re-armed
	// after each switch, GIM 3.0): errors add up, turn starts random-walk
	// and keep no lattice.
	Accumulate JitterMode = "accumulate"
	// Deadline: each switch-out happens at its absolute deadline ± Jitter;
	// deadlines advance by slice + switch cost whatever the last turn did,
	// so the error does not accumulate.
	Deadline JitterMode = "deadline"
)

// ParseJitterMode reads "accumulate" (also "relative", "drift") or
// "deadline" (also "absolute").
func ParseJitterMode(s string) (JitterMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "accumulate", "relative", "drift":
		return Accumulate, nil
	case "deadline", "absolute":
		return Deadline, nil
	}
	return "", fmt.Errorf("unknown jitter mode %q (want accumulate or deadline)", s)
}

// WorkloadKind is how a ring's process submits jobs (Workload).
type WorkloadKind string

const (
	Saturate WorkloadKind = "saturate"
	Frames   WorkloadKind = "frames"
	Bursts   WorkloadKind = "bursts"
	Long     WorkloadKind = "long"
)

// ParseWorkload reads a workload kind: "saturate", "frames", "bursts" or
// "long".
func ParseWorkload(s string) (WorkloadKind, error) {
	switch k := WorkloadKind(s); k {
	case Saturate, Frames, Bursts, Long:
		return k, nil
	}
	return "", fmt.Errorf("unknown workload %q (want saturate, frames, bursts or long)", s)
}

// DistKind is a job-duration distribution's shape (Dist).
type DistKind string

const (
	Const   DistKind = "const"
	Exp     DistKind = "exp"
	Uniform DistKind = "uniform" // Mean ± 50 %
	// Bimodal: short jobs, one in twenty of them twenty times as long (a
	// shader compile, a large copy): of the short jobs' mean s, 19 in 20
	// last s ± 50 % and 1 in 20 last 20·s ± 20 %; s = Mean/1.95, so the
	// overall mean is Mean.
	Bimodal DistKind = "bimodal"
)

// ParseDist reads a job-duration distribution kind: "const", "exp",
// "uniform" or "bimodal".
func ParseDist(s string) (DistKind, error) {
	switch k := DistKind(s); k {
	case Const, Exp, Uniform, Bimodal:
		return k, nil
	}
	return "", fmt.Errorf("unknown distribution %q (want const, exp, uniform or bimodal)", s)
}

// Neighbour is one other VF's load. Load is the probability that it has
// work when its turn comes (each turn drawn afresh); On and Off, when both
// are set, replace Load: the neighbour is busy for On then idle for Off,
// at its own random phase.
type Neighbour struct {
	Load    float64
	On, Off time.Duration
}

// Outage is a span in which our VF gets no turn while the other VFs (or
// nobody) hold the GPU: a host outage, or starvation. At is measured from
// the trace's start. A turn under way at At is cut there; our next turn
// starts at At+Len.
type Outage struct {
	At, Len time.Duration
	// Kind labels the span in the truth: "outage" or "starve".
	Kind string
}

// ParseOutage reads "AT+LEN" (e.g. "2s+1.5s"): LEN of no turn for our VF,
// starting AT after the trace's start.
func ParseOutage(s, kind string) (Outage, error) {
	a, l, ok := strings.Cut(strings.TrimSpace(s), "+")
	if !ok {
		return Outage{}, fmt.Errorf("%q: want AT+LEN, e.g. 2s+1.5s", s)
	}
	at, err := time.ParseDuration(a)
	if err != nil {
		return Outage{}, fmt.Errorf("%q: start: %w", s, err)
	}
	ln, err := time.ParseDuration(l)
	if err != nil {
		return Outage{}, fmt.Errorf("%q: length: %w", s, err)
	}
	if at < 0 || ln <= 0 {
		return Outage{}, fmt.Errorf("%q: want AT ≥ 0 and LEN > 0", s)
	}
	return Outage{At: at, Len: ln, Kind: kind}, nil
}

// Dist is a job-duration distribution.
type Dist struct {
	// Kind is Const, Exp, Uniform (Mean ± 50 %) or Bimodal; "" means
	// Const. Mean is the mean job duration.
	Kind DistKind
	Mean time.Duration
}

// Workload is how a ring's process submits jobs.
type Workload struct {
	// Kind is Saturate, Frames, Bursts or Long (Long is Saturate whose
	// jobs outlast a slice; set Ring.Job accordingly); "" means Saturate.
	Kind WorkloadKind
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
	// SwitchStep > 0 makes each world switch's cost vary in steps: the
	// switch really completes after SwitchCost × U[0.5, 1.5) and the host,
	// polling every SwitchStep, sees it at the next multiple of SwitchStep
	// (GIM's udelay(100) polling: SwitchStep 100 µs).
	SwitchStep time.Duration
	// Jitter is the per-switch error: each switch-out happens up to
	// ± Jitter (uniform) from where JitterMode puts it.
	Jitter time.Duration
	// JitterMode is Accumulate (default) or Deadline.
	JitterMode JitterMode
	Policy     Policy
	// NeighbourLoad is, for Skip and Liquid, the probability that a
	// neighbour has work in a given round (its turn is skipped otherwise);
	// 0 means 0.6.
	NeighbourLoad float64
	// NeighbourOn and NeighbourOff, for Skip and Liquid, when both are
	// set, replace NeighbourLoad: each neighbour runs its own workload,
	// busy for NeighbourOn then idle for NeighbourOff (each at its own
	// random phase), so skips come in stretches as neighbours start and
	// stop.
	NeighbourOn, NeighbourOff time.Duration
	// Neighbours, when set, give each neighbour its own load, as given
	// (Load 0: never busy): entry i is VF i+1; VFs beyond the list use
	// NeighbourLoad/On/Off.
	Neighbours []Neighbour
	// StealEvery > 0 deschedules the guest vCPU that takes the GPU
	// interrupt in episodes starting at random (Poisson, one per
	// StealEvery on average), each StealLen × U[0.75, 1.25) long (0 means
	// 1.5 ms). The GPU keeps running; completions that fall in an episode
	// are signalled together 2–4 µs after it ends.
	StealEvery, StealLen time.Duration
	// Outages are spans in which our VF gets no turn.
	Outages []Outage
	Rings   []Ring
	// Duration of the trace, after Warmup of unrecorded simulation
	// (0 means 50 ms).
	Duration time.Duration
	Warmup   time.Duration
	// Start is the trace clock at the trace's start, an uptime (0 means
	// 1437 s, as in the seed article's trace).
	Start time.Duration
	Seed  uint64
	// Gen and Nanoseconds choose the report text's format (WriteReport).
	Gen         tracepoint.Generation
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
	if sc.SwitchCost < 0 || sc.Jitter < 0 || sc.SwitchStep < 0 {
		return fmt.Errorf("scenario %s: negative switch cost, switch step or jitter", sc.Name)
	}
	mode, err := ParseJitterMode(string(sc.JitterMode))
	if err != nil {
		return fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	sc.JitterMode = mode
	if sc.NeighbourLoad == 0 {
		sc.NeighbourLoad = 0.6
	}
	if sc.NeighbourLoad < 0 || sc.NeighbourLoad > 1 {
		return fmt.Errorf("scenario %s: neighbour load %v outside [0,1]", sc.Name, sc.NeighbourLoad)
	}
	if sc.NeighbourOn < 0 || sc.NeighbourOff < 0 || (sc.NeighbourOn > 0) != (sc.NeighbourOff > 0) {
		return fmt.Errorf("scenario %s: neighbour on/off %v/%v (want both > 0, or both 0)", sc.Name, sc.NeighbourOn, sc.NeighbourOff)
	}
	if sc.VFs > 0 && len(sc.Neighbours) > sc.VFs-1 {
		return fmt.Errorf("scenario %s: %d neighbour loads for %d VFs (want at most %d)", sc.Name, len(sc.Neighbours), sc.VFs, sc.VFs-1)
	}
	for i, n := range sc.Neighbours {
		if n.Load < 0 || n.Load > 1 {
			return fmt.Errorf("scenario %s: neighbour %d: load %v outside [0,1]", sc.Name, i+1, n.Load)
		}
		if n.On < 0 || n.Off < 0 || (n.On > 0) != (n.Off > 0) {
			return fmt.Errorf("scenario %s: neighbour %d: on/off %v/%v (want both > 0, or both 0)", sc.Name, i+1, n.On, n.Off)
		}
	}
	if sc.StealEvery < 0 || sc.StealLen < 0 {
		return fmt.Errorf("scenario %s: negative steal interval or length", sc.Name)
	}
	if sc.StealEvery > 0 && sc.StealLen == 0 {
		sc.StealLen = 1500 * time.Microsecond
	}
	if sc.StealEvery > 0 && (sc.StealEvery < 100*time.Microsecond || sc.StealLen < time.Microsecond) {
		return fmt.Errorf("scenario %s: steal every %v for %v (want at least 100µs and 1µs)", sc.Name, sc.StealEvery, sc.StealLen)
	}
	for i, o := range sc.Outages {
		if o.At < 0 || o.Len <= 0 || o.At > 1<<60 || o.Len > 1<<60 {
			return fmt.Errorf("scenario %s: outage %d at %v for %v (want at ≥ 0, length > 0)", sc.Name, i, o.At, o.Len)
		}
		if sc.Policy == None {
			return fmt.Errorf("scenario %s: an outage needs a time-sliced host (policy %s)", sc.Name, sc.Policy)
		}
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
		if r.Job.Kind == "" {
			r.Job.Kind = "const"
		}
		if _, err := ParseDist(string(r.Job.Kind)); err != nil {
			return fmt.Errorf("scenario %s: ring %s: job %w", sc.Name, r.Name, err)
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

// neighbour is VF k's (k ≥ 1) load: its own entry, or the defaults.
func (sc *Scenario) neighbour(k int) Neighbour {
	if k >= 1 && k-1 < len(sc.Neighbours) {
		return sc.Neighbours[k-1]
	}
	return Neighbour{Load: sc.NeighbourLoad, On: sc.NeighbourOn, Off: sc.NeighbourOff}
}
