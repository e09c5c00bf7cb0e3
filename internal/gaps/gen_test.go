package gaps

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// scenario is a small generator of guest traces under a time-sliced host,
// for the engine's own unit tests (the full simulator lives in
// internal/simulate). The host gives our VF turns of Slice every Period =
// VFs·(Slice+Cost) (fixed mode) and preempts a running job at the end of a
// turn; the guest runs one ring, jobs in order.
type scenario struct {
	VFs         int
	Slice, Cost time.Duration
	Passthrough bool
	// Variable: each other VF is idle (skipped) in a turn with probability
	// SkipProb, shortening the off-time.
	Variable bool
	SkipProb float64

	Job     time.Duration // mean service time
	JobDist string        // "const", "exp", "unif" (±50 %)

	// Frames > 0: frame-paced, one frame of FrameJobs jobs every Frames;
	// else saturating with Depth jobs outstanding.
	Frames    time.Duration
	FrameJobs int
	Depth     int

	Duration time.Duration
	Seed     uint64
	// Gen617 names jobs by context:seqno and emits run events.
	Gen617 bool
}

type truth struct {
	// offs are the off-windows [start,end) of our VF in which the guest had work.
	offs [][2]int64
	// allOffs are all off-windows.
	allOffs [][2]int64
	// period is the mean turn-to-turn time over the trace.
	period time.Duration
}

const t0 = int64(1000e9)

func (sc scenario) generate() ([]event.Event, truth) {
	rng := rand.New(rand.NewPCG(sc.Seed, 7))
	// Build the on-windows of our VF.
	var ons [][2]int64
	end := t0 + int64(sc.Duration)
	if sc.Passthrough {
		ons = [][2]int64{{t0 - 1e9, end + 10e9}}
	} else {
		t := t0 - int64(rng.Float64()*float64(sc.Slice))
		for t < end+10e9 {
			ons = append(ons, [2]int64{t, t + int64(sc.Slice)})
			t += int64(sc.Slice + sc.Cost)
			for k := 1; k < sc.VFs; k++ {
				if sc.Variable && rng.Float64() < sc.SkipProb {
					continue
				}
				t += int64(sc.Slice + sc.Cost)
			}
		}
	}
	job := func() int64 {
		m := float64(sc.Job)
		switch sc.JobDist {
		case "exp":
			return int64(rng.ExpFloat64() * m)
		case "unif":
			return int64(m * (0.5 + rng.Float64()))
		case "bimodal":
			if rng.Float64() < 0.05 {
				return int64(m * 20 * (0.8 + 0.4*rng.Float64()))
			}
			return int64(m * (0.5 + rng.Float64()))
		}
		return int64(m)
	}
	// run advances from t through on-windows until x ns of service are done.
	wi := 0
	run := func(t, x int64) int64 {
		for {
			for ons[wi][1] <= t {
				wi++
			}
			if t < ons[wi][0] {
				t = ons[wi][0]
			}
			if avail := ons[wi][1] - t; avail >= x {
				return t + x
			} else {
				x -= avail
				t = ons[wi][1]
			}
		}
	}
	var evs []event.Event
	var seq uint64
	mk := func(k event.Kind, t int64, id uint64) {
		ev := event.Event{Time: t, Kind: k, Ring: "gfx", PID: 42, Comm: "bench", JobCount: -1, HWJobCount: -1, Entity: 0xffff8880aa000000}
		if sc.Gen617 {
			ev.Job = event.JobKey{Context: 77, Seqno: id}
			switch k {
			case event.KindQueue:
				ev.Name = "gpu_scheduler:drm_sched_job_queue"
			case event.KindRun:
				ev.Name = "gpu_scheduler:drm_sched_job_run"
			case event.KindDone:
				ev.Name = "gpu_scheduler:drm_sched_job_done"
				ev.Ring = ""
			}
		} else {
			ev.Job = event.JobKey{Fence: 0xffff888100000000 + (id%4096)*0x100}
			switch k {
			case event.KindQueue:
				ev.Name = "gpu_sched:amd_sched_job"
			case event.KindDone:
				ev.Name = "gpu_sched:amd_sched_process_job"
				ev.Ring = ""
			}
		}
		evs = append(evs, ev)
	}
	// busy intervals of the guest (work outstanding), to mark true windows
	var busy [][2]int64
	gpuFree := t0
	if sc.Frames > 0 {
		for f := t0; f < end; f += int64(sc.Frames) {
			start := f
			var last int64
			for j := 0; j < sc.FrameJobs; j++ {
				seq++
				mk(event.KindQueue, f, seq)
				s := max(gpuFree, f)
				if sc.Gen617 {
					mk(event.KindRun, s, seq)
				}
				c := run(s, job())
				mk(event.KindDone, c, seq)
				gpuFree = c
				last = c
			}
			busy = append(busy, [2]int64{start, last})
		}
	} else {
		depth := max(sc.Depth, 1)
		// the pipeline: submit depth jobs, each completion submits one
		var pending []int64 // completion times in flight
		t := t0
		for i := 0; i < depth; i++ {
			seq++
			mk(event.KindQueue, t, seq)
			s := max(gpuFree, t)
			if sc.Gen617 {
				mk(event.KindRun, s, seq)
			}
			gpuFree = run(s, job())
			pending = append(pending, gpuFree)
			mk(event.KindDone, gpuFree, seq)
		}
		// steady state: after each completion the guest submits another job
		for gpuFree < end {
			// next submission happens at the oldest pending completion
			sub := pending[0]
			pending = pending[1:]
			seq++
			mk(event.KindQueue, sub, seq)
			s := max(gpuFree, sub)
			if sc.Gen617 {
				mk(event.KindRun, s, seq)
			}
			gpuFree = run(s, job())
			pending = append(pending, gpuFree)
			mk(event.KindDone, gpuFree, seq)
		}
		busy = append(busy, [2]int64{t0, gpuFree})
	}
	sortEvents(evs)
	var tr truth
	for i := 1; i < len(ons); i++ {
		o := [2]int64{ons[i-1][1], ons[i][0]}
		if o[1] <= o[0] || o[0] < t0 || o[1] > end {
			continue
		}
		tr.allOffs = append(tr.allOffs, o)
		if o[1]-o[0] < 3*int64(sc.Cost) {
			// the VF's own next turn after skipped neighbours: a
			// switch cost, not a switch-out to another VF
			continue
		}
		for _, b := range busy {
			if b[0] < o[1] && b[1] > o[0] {
				tr.offs = append(tr.offs, o)
				break
			}
		}
	}
	var first, last int64 = -1, 0
	nt := 0
	for _, o := range ons {
		if o[0] >= t0 && o[0] <= end {
			if first < 0 {
				first = o[0]
			}
			last = o[0]
			nt++
		}
	}
	if nt > 1 {
		tr.period = time.Duration((last - first) / int64(nt-1))
	}
	// cut the trace at end
	k := 0
	for _, ev := range evs {
		if ev.Time <= end {
			evs[k] = ev
			k++
		}
	}
	return evs[:k], tr
}

func sortEvents(evs []event.Event) {
	// stable by time; queue before run before done at equal times is
	// already the generation order for one job
	slices.SortStableFunc(evs, func(a, b event.Event) int { return cmp.Compare(a.Time, b.Time) })
}

// trueSchedule returns the true slice, period and share.
func (sc scenario) trueSchedule() (slice, period time.Duration, share float64) {
	p := time.Duration(sc.VFs) * (sc.Slice + sc.Cost)
	return sc.Slice, p, float64(sc.Slice) / float64(p)
}

// windowF1 matches detected switched-out windows to true off-windows in
// which the guest had work: a detected window matches the true window it
// overlaps most.
func windowF1(ws []Window, tr truth) (f1, prec, rec float64) {
	var det [][2]int64
	for _, w := range ws {
		if w.Kind == SwitchedOut && !w.Open {
			det = append(det, [2]int64{w.Start, w.End})
		}
	}
	used := make([]bool, len(tr.offs))
	tp := 0
	j := 0
	for _, d := range det {
		for j < len(tr.offs) && tr.offs[j][1] <= d[0] {
			j++
		}
		for k := j; k < len(tr.offs) && tr.offs[k][0] < d[1]; k++ {
			if !used[k] {
				used[k] = true
				tp++
				break
			}
		}
	}
	if len(det) == 0 || len(tr.offs) == 0 {
		if len(det) == 0 && len(tr.offs) == 0 {
			return 1, 1, 1
		}
		return 0, 0, 0
	}
	prec = float64(tp) / float64(len(det))
	rec = float64(tp) / float64(len(tr.offs))
	if prec+rec == 0 {
		return 0, prec, rec
	}
	return 2 * prec * rec / (prec + rec), prec, rec
}

func relErr(got, want time.Duration) float64 {
	return math.Abs(float64(got-want)) / float64(want)
}
