package simulate

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// ErrStop, returned by an emit function, ends the simulation early without
// error (Run then returns the truth up to the last event emitted).
var ErrStop = errors.New("simulation stopped")

const (
	histLen      = 128
	maxDepth     = 48
	maxPerFrame  = 32
	maxHWLimit   = 32
	minIdleSpan  = int64(100 * time.Microsecond)
	defaultStart = 1437 * time.Second
)

type jobTimes struct{ q, r, d int64 }

type ringSim struct {
	r    *Ring
	idx  int
	n    uint64 // jobs generated
	hist [histLen]jobTimes
	// next job's queue time, valid when ready
	nextQ      int64
	lastQ      int64
	lastR      int64
	lastDone   int64 // signalled
	lastReal   int64 // real completion on the GPU
	frameStart int64
	entity     uint64
	ctx        uint64
	cpu        int32
}

func (rs *ringSim) at(m uint64) *jobTimes { return &rs.hist[m%histLen] }

// pending is a heap of events waiting for emission, ordered by time then
// by creation.
type pendEv struct {
	ev  event.Event
	ord uint64
}
type pendHeap []pendEv

func (h pendHeap) less(i, j int) bool {
	if h[i].ev.Time != h[j].ev.Time {
		return h[i].ev.Time < h[j].ev.Time
	}
	return h[i].ord < h[j].ord
}

func (h *pendHeap) push(x pendEv) {
	*h = append(*h, x)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !a.less(i, p) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *pendHeap) pop() event.Event {
	a := *h
	top := a[0].ev
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	i := 0
	for {
		l, m := 2*i+1, i
		if l < n && a.less(l, m) {
			m = l
		}
		if r := l + 1; r < n && a.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

type sim struct {
	sc    *Scenario
	rng   *rand.Rand
	host  *host
	rings []ringSim
	t0    int64 // simulation start (trace start - warmup)
	ts    int64 // trace start
	te    int64 // trace end
	emit  func(event.Event) error
	pend  pendHeap
	ord   uint64
	fence uint64

	tr Truth
	// turn statistics inside the trace
	firstTurn, lastTurn int64
	onSum, lastLen      int64
	// windows awaiting their busy verdict, in time order
	wq  []trueWin
	tq  [][2]int64 // our turns not yet counted
	out int        // jobs outstanding (queued, not done), all rings
	// idle tracking
	idleSince int64
	idle      bool
	// loss injection
	sinceLost int
	dropLeft  int
	stopped   bool
	// held share: our turns not yet passed, the last instant integrated,
	// time with work outstanding and the part of it inside our turns
	hq             [][2]int64
	lastObs        int64
	busyNs, heldNs int64
	// turn-to-turn intervals inside the trace: previous start, Σ, Σ²
	prevTurn      int64
	perSum, perSq float64
	perN          int
	// steal episodes, when the scenario has them
	steal *stealer
}

type trueWin struct {
	s, e       int64
	self, busy bool
	started    bool
	busyFrom   int64 // first instant with work outstanding, when busy
}

// Run simulates sc, calling emit with every event of the trace in time
// order, and returns the truth. emit may return ErrStop to end the run
// early (used to produce a trace of a given size); any other error ends
// the run and is returned.
func Run(sc Scenario, emit func(event.Event) error) (Truth, error) {
	sc.Rings = append([]Ring(nil), sc.Rings...) // Validate fills defaults in place
	sc.Slices = append([]time.Duration(nil), sc.Slices...)
	if err := sc.Validate(); err != nil {
		return Truth{}, err
	}
	s := &sim{sc: &sc, rng: rand.New(rand.NewPCG(sc.Seed, 0x9e3779b97f4a7c15)), emit: emit}
	start := sc.Start
	if start == 0 {
		start = defaultStart
	}
	warm := sc.Warmup
	if warm == 0 {
		warm = 50 * time.Millisecond
	}
	s.ts = int64(start)
	s.te = s.ts + int64(sc.Duration)
	s.t0 = s.ts - int64(warm)
	s.firstTurn = -1
	s.prevTurn = -1
	s.lastObs = s.t0
	s.host = newHost(&sc, s.rng, s.t0, s.turn)
	s.host.setOutages(s.ts)
	if sc.StealEvery > 0 {
		s.steal = newStealer(&sc, s.t0)
	}
	s.tr = Truth{Scenario: sc.Name, Policy: sc.Policy, VFs: sc.VFs, Start: secs(s.ts), End: secs(s.te),
		SwitchCost: sc.SwitchCost.Seconds(), Jitter: sc.Jitter.Seconds(), Seed: sc.Seed,
		Workload: string(sc.Rings[0].Workload.Kind), Job: sc.Rings[0].Job.Mean.Seconds(), SwitchStep: sc.SwitchStep.Seconds()}
	if sc.Jitter > 0 {
		s.tr.JitterMode = sc.JitterMode
	}
	if sc.Policy == Liquid {
		s.tr.Quantum = sc.slice(0).Seconds()
	}
	for _, r := range sc.Rings {
		s.tr.Rings = append(s.tr.Rings, r.Name)
	}
	if sc.Policy != None {
		for i := 0; i < sc.VFs; i++ {
			s.tr.Slices = append(s.tr.Slices, sc.slice(i).Seconds())
		}
		s.tr.NominalPeriod = sc.NominalPeriod().Seconds()
	}
	s.rings = make([]ringSim, len(sc.Rings))
	for i := range sc.Rings {
		r := &sc.Rings[i]
		r.Workload.Depth = min(r.Workload.Depth, maxDepth)
		r.Workload.JobsPerFrame = min(r.Workload.JobsPerFrame, maxPerFrame)
		r.HWLimit = min(r.HWLimit, maxHWLimit)
		rs := &s.rings[i]
		rs.r, rs.idx = r, i
		rs.entity = 0xffff_8881_2c4a_0000 + uint64(i)*0x2000
		rs.ctx = 0x2a1 + 2*uint64(i)
		if sc.CPUs > 1 {
			rs.cpu = int32(1 + i%(sc.CPUs-1))
		}
		rs.lastQ, rs.lastR, rs.lastDone, rs.lastReal = s.t0, s.t0, s.t0, s.t0
		s.nextQueue(rs)
	}
	s.idle, s.idleSince = true, s.ts
	err := s.loop()
	if err != nil && !errors.Is(err, ErrStop) {
		return s.tr, err
	}
	s.finish()
	return s.tr, nil
}

func (s *sim) us(lo, hi float64) int64 {
	return int64((lo + (hi-lo)*s.rng.Float64()) * 1e3)
}

func (s *sim) jobLen(r *Ring) int64 {
	m := float64(r.Job.Mean)
	var x float64
	switch r.Job.Kind {
	case Exp:
		x = s.rng.ExpFloat64() * m
	case Uniform:
		x = m * (0.5 + s.rng.Float64())
	case Bimodal:
		m /= 1.95 // the short jobs' mean
		if s.rng.Float64() < 0.05 {
			x = 20 * m * (0.8 + 0.4*s.rng.Float64())
		} else {
			x = m * (0.5 + s.rng.Float64())
		}
	default:
		x = m
	}
	return max(int64(x), int64(time.Microsecond))
}

// nextQueue computes the queue time of rs's next job.
func (s *sim) nextQueue(rs *ringSim) {
	w := &rs.r.Workload
	n := rs.n
	var q int64
	switch w.Kind {
	case Frames:
		J := uint64(w.JobsPerFrame)
		f, i := n/J, n%J
		if i == 0 {
			fs := s.t0 + int64(float64(f)*1e9/w.FPS)
			if f >= 2 {
				// at most two frames in flight
				fs = max(fs, rs.at((f-1)*J-1).d+s.us(5, 30))
			}
			rs.frameStart = fs
			q = fs
		} else {
			q = max(rs.frameStart, rs.lastQ+s.us(2, 8))
		}
	default:
		d := uint64(w.Depth)
		if n < d {
			q = s.t0 + int64(n)*3000
		} else {
			q = rs.at(n-d).d + s.us(3, 30)
		}
		if w.Kind == Bursts {
			cyc := int64(w.On + w.Off)
			ph := (q - s.t0) % cyc
			if ph >= int64(w.On) {
				q += cyc - ph
			}
		}
	}
	rs.nextQ = max(q, rs.lastQ)
}

// loop generates jobs ring by ring in queue-time order and emits pending
// events as soon as no future job can precede them.
func (s *sim) loop() error {
	for {
		var rs *ringSim
		for i := range s.rings {
			if rs == nil || s.rings[i].nextQ < rs.nextQ {
				rs = &s.rings[i]
			}
		}
		q := rs.nextQ
		if err := s.flush(q); err != nil {
			return err
		}
		if q > s.te {
			return s.flush(s.te + 1)
		}
		s.genJob(rs)
		s.nextQueue(rs)
		lo := s.rings[0].lastR
		for i := range s.rings {
			lo = min(lo, s.rings[i].lastR)
		}
		s.host.prune(lo - int64(time.Second))
		if s.steal != nil {
			s.steal.prune(lo - int64(time.Second))
		}
	}
}

func (s *sim) genJob(rs *ringSim) {
	r := rs.r
	n := rs.n
	q := rs.nextQ
	H := uint64(r.HWLimit)
	rt := q + s.us(2, 12)
	if n >= H {
		rt = max(rt, rs.at(n-H).d+s.us(2, 12))
	}
	rt = max(rt, rs.lastR)
	x := s.jobLen(r)
	real := s.host.finish(max(rt, rs.lastReal), x)
	d := real
	if s.steal != nil {
		// in ring order: a completion just after an episode is not
		// signalled before those held back by it
		d = max(s.steal.signal(real), rs.lastDone+1)
	}
	// counts the events report: entity queue depth at queue time (jobs
	// queued and not yet run), hardware jobs at run time.
	var jc, hw int32
	for m := n; m > 0 && n-m < histLen-1; m-- {
		jt := rs.at(m - 1)
		if jt.r <= q {
			break
		}
		jc++
	}
	for m := n; m > 0 && n-m < histLen-1; m-- {
		jt := rs.at(m - 1)
		if jt.d <= rt {
			break
		}
		hw++
	}
	var hwq int32
	for m := n; m > 0 && n-m < histLen-1; m-- {
		jt := rs.at(m - 1)
		if jt.d <= q {
			break
		}
		if jt.r <= q {
			hwq++
		}
	}
	*rs.at(n) = jobTimes{q, rt, d}
	rs.n++
	rs.lastQ, rs.lastR, rs.lastDone, rs.lastReal = q, rt, d, real
	s.fence++
	seq := n + 1
	key := event.JobKey{
		Fence:   0xffff_9a3b_4000_0000 + (s.fence%(1<<22))*0xc0,
		Context: rs.ctx, Seqno: seq,
	}
	base := event.Event{Ring: r.Name, Job: key, ID: seq, Entity: rs.entity, JobCount: -1, HWJobCount: -1}
	qe := base
	qe.Time, qe.Kind, qe.CPU, qe.PID, qe.Comm = q, event.KindQueue, rs.cpu, r.PID, r.Comm
	qe.JobCount, qe.HWJobCount = jc, hwq
	re := base
	re.Time, re.Kind, re.CPU, re.PID, re.Comm = rt, event.KindRun, rs.cpu, 300+int32(rs.idx), r.Name
	re.JobCount, re.HWJobCount = 0, hw
	de := base
	de.Time, de.Kind, de.CPU, de.PID, de.Comm = d, event.KindDone, 0, 0, "<idle>"
	s.push(qe)
	s.push(re)
	s.push(de)
}

func (s *sim) push(ev event.Event) {
	s.ord++
	s.pend.push(pendEv{ev, s.ord})
}

// flush emits pending events earlier than t.
func (s *sim) flush(t int64) error {
	for len(s.pend) > 0 && s.pend[0].ev.Time < t {
		ev := s.pend.pop()
		if ev.Time > s.te {
			continue
		}
		if err := s.observe(ev); err != nil {
			return err
		}
	}
	return nil
}

// observe updates the truth with ev (before any loss) and emits it.
func (s *sim) observe(ev event.Event) error {
	if s.stopped {
		return ErrStop
	}
	t := ev.Time
	s.advanceWindows(t)
	s.integrate(t)
	switch ev.Kind {
	case event.KindQueue:
		s.out++
		if t >= s.ts {
			s.tr.Jobs++
		}
		for i := range s.wq {
			if w := &s.wq[i]; w.s <= t && t < w.e && !w.busy {
				w.busy, w.busyFrom = true, t
			}
		}
		if s.idle {
			if t-s.idleSince >= minIdleSpan && t > s.ts {
				s.tr.Idle = append(s.tr.Idle, Span{secs(max(s.idleSince, s.ts)), secs(t)})
			}
			s.idle = false
		}
	case event.KindDone:
		s.out--
		if s.out == 0 {
			s.idle, s.idleSince = true, t
		}
	}
	if t < s.ts {
		return nil
	}
	if s.sc.LostEvery > 0 {
		if s.dropLeft > 0 {
			s.dropLeft--
			return nil
		}
		s.sinceLost++
		if s.sinceLost >= s.sc.LostEvery {
			s.sinceLost = 0
			k := 1 + s.rng.IntN(16)
			s.dropLeft = k - 1 // this event is the first of the k
			s.tr.Lost += uint64(k)
			lost := ev
			lost.Kind, lost.Count = event.KindLost, uint64(k)
			lost.Job, lost.Ring, lost.Comm, lost.PID, lost.ID = event.JobKey{}, "", "", 0, 0
			return s.send(lost)
		}
	}
	s.tr.Events++
	return s.send(ev)
}

func (s *sim) send(ev event.Event) error {
	if err := s.emit(ev); err != nil {
		if errors.Is(err, ErrStop) {
			s.stopped = true
			s.te = ev.Time
		}
		return err
	}
	return nil
}

// turn records one of our turns [st, e) followed by an off-window [e, next).
func (s *sim) turn(st, e, next int64, self bool) {
	s.tq = append(s.tq, [2]int64{st, e})
	s.hq = append(s.hq, [2]int64{st, e})
	if next > e { // no window when a self switch costs nothing
		s.wq = append(s.wq, trueWin{s: e, e: next, self: self, busyFrom: -1})
	}
}

// countTurn adds our turn [st, e) to the truth when it starts inside the trace.
func (s *sim) countTurn(st, e int64) {
	if st < s.ts || st > s.te {
		return
	}
	if s.firstTurn < 0 {
		s.firstTurn = st
	}
	s.lastTurn = st
	s.tr.Turns++
	s.onSum += e - st
	s.lastLen = e - st
	if s.prevTurn >= 0 {
		p := float64(st - s.prevTurn)
		s.perSum += p
		s.perSq += p * p
		s.perN++
	}
	s.prevTurn = st
}

// integrate adds [lastObs, t) (clipped to the trace) to the time with work
// outstanding, and its overlap with our turns to the time held.
func (s *sim) integrate(t int64) {
	a, b := max(s.lastObs, s.ts), min(t, s.te)
	s.lastObs = max(s.lastObs, t)
	if b > a && s.out > 0 {
		s.busyNs += b - a
		if s.host.pass {
			s.heldNs += b - a
		}
		for _, tu := range s.hq {
			if tu[0] >= b {
				break
			}
			s.heldNs += max(0, min(tu[1], b)-max(tu[0], a))
		}
	}
	n := 0
	for n < len(s.hq) && s.hq[n][1] <= b {
		n++
	}
	if n > 0 {
		s.hq = append(s.hq[:0], s.hq[n:]...)
	}
}

// advanceWindows counts the turns that started by t and settles the
// off-windows that end by t: a window is busy when a job was outstanding
// at its start or queued inside it.
func (s *sim) advanceWindows(t int64) {
	n := 0
	for n < len(s.tq) && s.tq[n][0] <= t {
		s.countTurn(s.tq[n][0], s.tq[n][1])
		n++
	}
	if n > 0 {
		s.tq = append(s.tq[:0], s.tq[n:]...)
	}
	k := 0
	for k < len(s.wq) {
		w := &s.wq[k]
		if !w.started && w.s <= t {
			w.started = true
			if s.out > 0 {
				w.busy, w.busyFrom = true, w.s
			}
		}
		if w.e > t {
			break
		}
		s.settle(w)
		k++
	}
	if k > 0 {
		s.wq = append(s.wq[:0], s.wq[k:]...)
	}
}

func (s *sim) settle(w *trueWin) {
	if !w.started && s.out > 0 {
		w.busy, w.busyFrom = true, w.s
	}
	if w.s >= s.ts && w.e <= s.te {
		tw := TrueWindow{Start: secs(w.s), End: secs(w.e), Busy: w.busy, Self: w.self}
		if w.busy {
			tw.BusyFrom = secs(w.busyFrom)
		}
		s.tr.Windows = append(s.tr.Windows, tw)
	}
}

func (s *sim) finish() {
	// windows still waiting end after the last event
	for i := range s.wq {
		s.settle(&s.wq[i])
	}
	s.wq = nil
	for _, tu := range s.tq {
		s.countTurn(tu[0], tu[1])
	}
	s.tq = nil
	s.tr.End = secs(s.te)
	if s.idle && s.te-s.idleSince >= minIdleSpan {
		s.tr.Idle = append(s.tr.Idle, Span{secs(max(s.idleSince, s.ts)), secs(s.te)})
	}
	// the held share up to the trace's end: our turns through te
	if !s.host.pass {
		s.host.ensure(s.te)
	}
	s.integrate(s.te)
	s.tr.BusyTime = float64(s.busyNs) / 1e9
	if s.busyNs > 0 {
		s.tr.HeldShare = float64(s.heldNs) / float64(s.busyNs)
	}
	if s.perN > 0 {
		m := s.perSum / float64(s.perN)
		s.tr.PeriodStd = math.Sqrt(max(0, s.perSq/float64(s.perN)-m*m)) / 1e9
	}
	if s.steal != nil {
		for _, e := range s.steal.all {
			if e[1] > s.ts && e[0] < s.te {
				s.tr.Steal = append(s.tr.Steal, Span{secs(max(e[0], s.ts)), secs(min(e[1], s.te))})
			}
		}
	}
	for _, o := range s.host.outages {
		if o.b > s.ts && o.a < s.te {
			s.tr.Outages = append(s.tr.Outages, OutageSpan{secs(max(o.a, s.ts)), secs(min(o.b, s.te)), o.kind})
		}
	}
	s.tr.BusyVFs = s.host.maxVFs
	// turns recorded past an early stop
	if s.sc.Policy == None {
		s.tr.Share = 1
		return
	}
	if s.tr.Turns > 0 {
		s.tr.Slice = float64(s.onSum) / float64(s.tr.Turns) / 1e9
	}
	if s.tr.Turns > 1 {
		s.tr.Period = float64(s.lastTurn-s.firstTurn) / float64(s.tr.Turns-1) / 1e9
	} else {
		s.tr.Period = s.tr.NominalPeriod
	}
	// the long-run share: active time over whole periods, from the
	// first in-trace turn's start to the last one's
	if s.tr.Turns > 1 && s.lastTurn > s.firstTurn {
		s.tr.Share = float64(s.onSum-s.lastLen) / float64(s.lastTurn-s.firstTurn)
	} else if s.tr.Period > 0 {
		s.tr.Share = s.tr.Slice / s.tr.Period
	}
}
