package input

import (
	"io"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// MaxSkew is how far apart per-CPU buffers may start: a CPU whose first
// event comes later than this after the trace's first is taken as a CPU
// that had nothing to record until then, not as a late buffer.
// trace-cmd's per-CPU buffers are seen to start up to 1.2 s apart.
const MaxSkew = 2_000_000_000 // ns

// minSkew is the smallest start skew worth a marker. In report text the
// skew is seen through the GPU events alone, and CPUs' first GPU events
// milliseconds apart are the usual order of a busy trace (the seed trace's
// four CPUs: within 1.8 ms); late buffers are hundreds of milliseconds.
const minSkew = 50_000_000 // ns

// maxReadAhead bounds the events held back while the skew is decided
// (a fast trace may hold millions of events in MaxSkew): the decision
// then rests on the CPUs seen by then. 8 Ki events (1 MiB) cover seconds
// of a desktop capture (the amdgpu trace of docs/inputs.md: 3.4 k events
// in 3.5 s); more would raise analyze's peak memory for every trace.
const maxReadAhead = 1 << 13

// CPUStarter is a source that knows when each CPU's buffer begins (a
// trace.dat: the first page of each CPU).
type CPUStarter interface {
	CPUStarts() []int64
}

// Skew is a source that begins with an event.KindPartial marker when
// some CPUs' events start later than the trace: it says from which time
// every CPU's events are complete, so that the engine claims no window
// before it. From a CPUStarter (trace.dat) the time is the latest buffer
// start within MaxSkew of the first event; from other sources (report
// text) the latest first event of a CPU within MaxSkew of the trace's
// start, found by reading ahead MaxSkew of trace time (at most
// maxReadAhead events), when the span before it lacks its completions
// (see missingCompletions). Starts less than minSkew apart give no marker.
type Skew struct {
	src     event.Source
	decided bool
	buf     []event.Event // read ahead, the marker first once decided
	pos     int
	err     error // the error that ended the read-ahead

	first   int64
	started bool
	cpuSeen map[int32]int64 // first event time per CPU
	// completeFrom is the time every CPU's events are complete from (0
	// until decided, or when no CPU started late).
	completeFrom int64
}

// NewSkew wraps src.
func NewSkew(src event.Source) *Skew { return &Skew{src: src, cpuSeen: map[int32]int64{}} }

// CompleteFrom is when every CPU's events are complete, once the first
// event was read; 0 when no CPU starts late.
func (s *Skew) CompleteFrom() int64 { return s.completeFrom }

// observe notes evs (not yet decided); it reports whether the read-ahead
// may stop.
func (s *Skew) observe(evs []event.Event) bool {
	for i := range evs {
		ev := &evs[i]
		if !s.started {
			s.started, s.first = true, ev.Time
		}
		if ev.Time > s.first+MaxSkew || len(s.buf)+i >= maxReadAhead {
			return true
		}
		if _, ok := s.cpuSeen[ev.CPU]; !ok && ev.Kind != event.KindLost {
			s.cpuSeen[ev.CPU] = ev.Time
		}
	}
	_, starter := s.src.(CPUStarter)
	return starter
}

// decide sets completeFrom and puts the marker before the buffered
// events.
func (s *Skew) decide() {
	s.decided = true
	if !s.started {
		return
	}
	from := int64(0)
	if cs, ok := s.src.(CPUStarter); ok {
		// A buffer's first page is its first record: a CPU that
		// recorded nothing for long is no late buffer either.
		for _, t := range cs.CPUStarts() {
			if t <= s.first+MaxSkew {
				from = max(from, t)
			}
		}
	} else {
		for _, t := range s.cpuSeen {
			from = max(from, t)
		}
		if from-s.first >= minSkew && !missingCompletions(s.buf, from) {
			// A CPU that merely had no GPU work early (a thread that
			// moved there later) is no late buffer: the early span
			// has its completions.
			return
		}
	}
	if from-s.first < minSkew {
		return
	}
	s.completeFrom = from
	mark := event.Event{Time: s.first, CPU: -1, Kind: event.KindPartial, Count: uint64(from), JobCount: -1, HWJobCount: -1}
	s.buf = append([]event.Event{mark}, s.buf...)
}

// missingCompletions reports whether the events before from look like a
// trace missing a CPU: at least a tenth of the jobs submitted before from
// never complete among evs (their completions were in the missing
// buffer). In report text a late buffer is seen only through the GPU
// events; it matters when the missing CPU took completions, so that the
// early span would show work never completing. A thread that merely
// moved to that CPU later leaves no such jobs.
func missingCompletions(evs []event.Event, from int64) bool {
	subs := map[event.JobKey]bool{}
	for i := range evs {
		ev := &evs[i]
		if ev.Time >= from {
			break
		}
		if (ev.Kind == event.KindQueue || ev.Kind == event.KindRun) && !ev.Job.IsZero() {
			subs[ev.Job] = true
		}
	}
	if len(subs) == 0 {
		return false
	}
	missing := len(subs)
	for i := range evs {
		if ev := &evs[i]; ev.Kind == event.KindDone && subs[ev.Job] {
			subs[ev.Job] = false
			missing--
		}
	}
	return 10*missing >= len(subs)
}

// readAhead reads until the skew is decided.
func (s *Skew) readAhead() {
	bs, batched := s.src.(event.BatchSource)
	for !s.decided {
		var evs []event.Event
		var err error
		if batched {
			evs, err = bs.NextBatch()
		} else {
			var ev event.Event
			ev, err = s.src.Next()
			evs = []event.Event{ev}
		}
		if err != nil {
			s.err = err
			s.decide()
			return
		}
		stop := s.observe(evs)
		s.buf = append(s.buf, evs...)
		if stop {
			s.decide()
		}
	}
}

// Next returns the next event: the marker first, where there is one.
func (s *Skew) Next() (event.Event, error) {
	if !s.decided {
		s.readAhead()
	}
	if s.pos < len(s.buf) {
		s.pos++
		return s.buf[s.pos-1], nil
	}
	if s.err != nil {
		return event.Event{}, s.err
	}
	return s.src.Next()
}

// NextBatch is Next a batch at a time.
func (s *Skew) NextBatch() ([]event.Event, error) {
	if !s.decided {
		s.readAhead()
	}
	if s.pos < len(s.buf) {
		evs := s.buf[s.pos:]
		s.pos = len(s.buf)
		return evs, nil
	}
	if s.err != nil {
		return nil, s.err
	}
	if bs, ok := s.src.(event.BatchSource); ok {
		return bs.NextBatch()
	}
	ev, err := s.src.Next()
	if err != nil {
		return nil, err
	}
	return []event.Event{ev}, nil
}

// Drain hands every event to fn, through the wrapped source's Drain
// where it has one (the parallel text reader).
func (s *Skew) Drain(fn func([]event.Event)) error {
	d, ok := s.src.(event.Drainer)
	if !ok {
		return event.DrainBatches(batchOnly{s}, fn)
	}
	if s.decided {
		// Decided by an earlier read (a first look at the input): hand
		// out what was read ahead, then the rest through the wrapped
		// source's Drain, on the CPUs that parse it.
		if s.pos < len(s.buf) {
			fn(s.buf[s.pos:])
		}
		s.buf, s.pos = nil, 0
		if s.err != nil {
			if s.err == io.EOF {
				return nil
			}
			return s.err
		}
		err := d.Drain(fn)
		if err == io.EOF {
			err = nil
		}
		return err
	}
	err := d.Drain(func(evs []event.Event) {
		if s.decided {
			fn(evs)
			return
		}
		stop := s.observe(evs)
		s.buf = append(s.buf, evs...)
		if stop {
			s.decide()
			fn(s.buf)
			s.buf, s.pos = nil, 0
		}
	})
	if !s.decided {
		s.decide()
		if len(s.buf) > 0 {
			fn(s.buf)
		}
		s.buf, s.pos = nil, 0
	}
	if err == io.EOF {
		err = nil
	}
	return err
}

// batchOnly hides Skew's Drain from DrainBatches.
type batchOnly struct{ s *Skew }

func (b batchOnly) Next() (event.Event, error)        { return b.s.Next() }
func (b batchOnly) NextBatch() ([]event.Event, error) { return b.s.NextBatch() }
