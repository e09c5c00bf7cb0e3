package timeline

import (
	"github.com/gpuwatch/gpuwatch/internal/event"
)

// numBins is the resolution kept per ring, whatever the trace length: when
// the trace outgrows the bins, their width doubles and pairs merge, so
// memory stays flat and a long trace is drawn aggregated.
const numBins = 4096

// maxJobs bounds the jobs followed to find the ring of a completion.
const maxJobs = 1 << 20

// Recorder follows each ring's work outstanding over time, for the
// per-ring lanes. Feed it the same events as the engine.
type Recorder struct {
	t0, width int64 // bins cover [t0, t0+width*numBins)
	started   bool
	rings     []*lane
	byName    map[string]*lane
	jobs      map[event.JobKey]*lane
	byID      map[uint64]*lane // amd/drm ids are per scheduler but rarely collide
	last      int64
}

type lane struct {
	name  string
	out   int   // jobs outstanding
	since int64 // when out last became > 0
	busy  [numBins]int64
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{width: 1 << 10, byName: map[string]*lane{}, jobs: map[event.JobKey]*lane{}}
}

// Feed adds one event (time order).
func (r *Recorder) Feed(ev event.Event) {
	if !r.started {
		r.t0, r.started = ev.Time, true
	}
	if ev.Time < r.last {
		ev.Time = r.last
	}
	r.last = ev.Time
	switch ev.Kind {
	case event.KindQueue, event.KindRun:
		if ev.Ring == "" || ev.Job.IsZero() {
			return
		}
		if _, ok := r.jobs[ev.Job]; ok {
			return // queue then run: the job is outstanding from its queueing
		}
		l := r.byName[ev.Ring]
		if l == nil {
			l = &lane{name: ev.Ring}
			r.byName[ev.Ring] = l
			r.rings = append(r.rings, l)
		}
		if len(r.jobs) >= maxJobs {
			return
		}
		r.jobs[ev.Job] = l
		if l.out == 0 {
			l.since = ev.Time
		}
		l.out++
	case event.KindDone:
		l, ok := r.jobs[ev.Job]
		if !ok {
			return
		}
		delete(r.jobs, ev.Job)
		l.out--
		if l.out == 0 {
			r.addBusy(l, l.since, ev.Time)
		}
	}
}

// Finish closes the spans still open at end (the snapshot's End).
func (r *Recorder) Finish(end int64) {
	for _, l := range r.rings {
		if l.out > 0 {
			r.addBusy(l, l.since, end)
			l.since = end
		}
	}
}

func (r *Recorder) grow(t int64) {
	for t >= r.t0+r.width*numBins {
		for _, l := range r.rings {
			for i := 0; i < numBins/2; i++ {
				l.busy[i] = l.busy[2*i] + l.busy[2*i+1]
			}
			clear(l.busy[numBins/2:])
		}
		r.width *= 2
	}
}

// addBusy spreads the busy span [a,b) over the bins.
func (r *Recorder) addBusy(l *lane, a, b int64) {
	if b <= a {
		return
	}
	r.grow(b)
	for a < b {
		i := (a - r.t0) / r.width
		end := min(b, r.t0+(i+1)*r.width)
		l.busy[i] += end - a
		a = end
	}
}

// busyFraction is the fraction of [a,b) during which ring l had work.
func (r *Recorder) busyFraction(l *lane, a, b int64) float64 {
	if b <= a || !r.started {
		return 0
	}
	var sum int64
	for t := a; t < b; {
		i := (t - r.t0) / r.width
		if i < 0 {
			t = r.t0
			continue
		}
		if i >= numBins {
			break
		}
		bs, be := r.t0+i*r.width, r.t0+(i+1)*r.width
		end := min(b, be)
		// the bin's busy time, prorated to the overlap
		sum += int64(float64(l.busy[i]) * float64(end-t) / float64(be-bs))
		t = end
	}
	return float64(sum) / float64(b-a)
}
