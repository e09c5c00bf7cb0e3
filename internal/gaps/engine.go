package gaps

import (
	"maps"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// Config tunes an Engine. The zero Config is the offline default.
type Config struct {
	// Horizon bounds the live view: windows and the Recent estimate cover
	// the last Horizon of trace time. Zero keeps everything (offline).
	Horizon time.Duration
	// MaxJobAge expires a job whose completion never came (lost event,
	// trace boundary) once completions went on for this long after it was
	// submitted: while nothing completes at all, jobs wait and do not age.
	// Zero means 10 s, the drm scheduler's default job timeout.
	MaxJobAge time.Duration
	// MaxJobs bounds the number of jobs followed at once; the oldest are
	// expired beyond it. Zero means 1<<20.
	MaxJobs int
}

const (
	defaultMaxJobAge = 10 * time.Second
	defaultMaxJobs   = 1 << 20
	// maxProcs bounds the per-ring process table; further tasks are
	// merged into one "(other)" entry (Input.TasksCapped counts their jobs).
	maxProcs = 256
	// maxRings bounds the ring table (each ring keeps histograms of some
	// 25 KB): events of further rings go to one "(other)" ring, counted in
	// Input.RingsCapped. A GPU has tens of rings; only a hostile or broken
	// input names thousands.
	maxRings = 1024
	// liveCandCap bounds the retained candidate windows when a horizon is
	// set (the whole-run estimate then rests on the latest ones).
	liveCandCap = 1 << 16
	// offlineCandCap triggers a compaction of the candidate store offline.
	offlineCandCap = 1 << 20
)

// Engine is the incremental analysis. It is not safe for concurrent use:
// one goroutine feeds it and takes snapshots.
type Engine struct {
	cfg    Config
	maxAge int64
	maxJob int

	input Input
	// names counts events by name in first-seen order; Snapshot turns it
	// into input.ByName (a scan of a few names is cheaper per event than
	// hashing the name).
	names      []nameCount
	start, end int64
	started    bool

	rings   []ringState
	ringIdx map[string]int
	jobs    jobTable
	order   fifo[orderEnt] // every followed job, in first-seen order (expiry)
	epoch   uint32         // bumped at each lost-events marker

	out       int   // jobs outstanding (counted, current epoch), all rings
	busySince int64 // when out last went 0 → >0
	busyTotal int64 // time with out > 0, up to busySince
	// busyBefore is busyTotal when the trace became complete (busyCut).
	busyBefore int64
	busyCut    bool
	lastProg   int64 // last completion (any ring), or the trace start
	tainted    bool  // the current no-progress stretch spans lost events or expiry
	idleOpen   bool  // out == 0 since idleSince
	idleSince  int64
	idleTaint  bool
	zeros      uint64 // idle stretches (longer than the floor) and losses so far

	sawSched bool // scheduler submissions seen (dma_fence events then ignored)
	fj       fenceJobs

	// The completions closing the last no-progress stretch while they
	// come within stealGap of each other (see noteBurst).
	burst   burstState
	hwDepth int // the most jobs seen on a hardware ring at once (hw_job_count)
	// normalMean is normalGap as of the last floor update (a burst's
	// decision needs it often; the spacing moves slowly).
	normalMean float64
	burstGaps  [16]burstGap // backing for burst.gaps
	// stealSum sums the steal stretches since the start.
	stealSum int64

	completions uint64 // completion events
	matched     uint64 // completions matched to a submission

	busyH gapHist // busy part of every no-progress stretch
	anchH gapHist // no-progress stretches with work outstanding from the start
	idleH gapHist // stretches with nothing outstanding

	floor      int64 // candidates are stretches at least this long
	floorCheck uint64

	cands candStore
	// candsDropped: windows were dropped from cands (the oldest half, to
	// bound memory): they no longer hold the whole run.
	candsDropped bool
	// long holds the longest no-progress stretches with work outstanding
	// (at least longMin, at most longCap of them, time order).
	long []Window
	// short holds the recent busy stretches that began after guest idle
	// and stayed below the candidate floor (a job arriving late in an
	// off-time gives one); bounded.
	short fifo[span]
	// recentDone holds the latest completion times (bounded): in a fixed
	// schedule their phases outline the slice.
	recentDone  fifo[int64]
	candGen     uint64 // bumped on every change to cands
	infCache    inferCache
	recentCache inferCache
	fresh       bool // FinalSnapshot in progress
}

type ringState struct {
	name      string
	out       int
	busySince int64
	busy      int64
	jobs      uint64
	sawRun    bool
	lat       latHist
	stall     [nbGap]float64 // busy time inside no-progress stretches, by the stretch's bin
	procs     []procState
	procIdx   map[procKey]int
	lastProc  int            // index of the last task looked up (proc's cache)
	order     fifo[orderEnt] // this ring's jobs in first-seen order (in-order retirement)
}

type procKey struct {
	comm string
	pid  int32
}

type procState struct {
	comm      string
	pid       int32
	out       int
	busySince int64
	busy      int64
	jobs      uint64
	stall     [nbGap]float64
}

type jobRec struct {
	first   int64 // when the job was first seen (queue, else run)
	queue   int64
	run     int64
	entity  uint64
	ring    int32
	proc    int32
	epoch   uint32
	hasQ    bool
	hasR    bool
	counted bool // included in the outstanding counts
	via     via  // the events the job is followed through
}

// via is the events a job is followed through (one byte: jobRec stays
// at 48 bytes).
type via uint8

const (
	viaSched  via = iota // the scheduler's own events
	viaFence             // dma_fence events (no scheduler events)
	viaAMDGPU            // amdgpu events and the scheduler's dma_fence signals (fencejobs.go)
)

type orderEnt struct {
	key   event.JobKey
	first int64
}

// cand is a no-progress stretch kept for classification at snapshot time
// (the threshold is derived from all data, so it is applied late).
type cand struct {
	start, end int64
	idle       bool // nothing outstanding (else: busy part of a stretch)
	anchored   bool // work was outstanding already at the previous completion
	inflight   int
	compStart  uint64 // completions counted at start
	compEnd    uint64 // completions counted at end
	zeroStart  uint64 // e.zeros at start
	zeroEnd    uint64 // e.zeros at end
	// steal: the stretch ended with the completions of the jobs the GPU
	// finished meanwhile delivered at once (see noteBurst).
	steal bool
}

type span struct {
	start, end int64
	inflight   int
}

const (
	shortCap      = 1 << 16
	recentDoneCap = 1 << 16
)

// New returns an engine.
func New(cfg Config) *Engine {
	e := &Engine{
		cfg:     cfg,
		maxAge:  int64(cfg.MaxJobAge),
		maxJob:  cfg.MaxJobs,
		ringIdx: map[string]int{},
	}
	if e.maxAge <= 0 {
		e.maxAge = int64(defaultMaxJobAge)
	}
	if e.maxJob <= 0 {
		e.maxJob = defaultMaxJobs
	}
	e.input.ByName = map[string]uint64{}
	e.burst.gaps = e.burstGaps[:0]
	return e
}

// Reset forgets everything fed so far (the TUI's "r").
func (e *Engine) Reset() { *e = *New(e.cfg) }

// Feed adds one event. Events must come in non-decreasing time order; an
// event earlier than the previous one is counted in Input.OutOfOrder and
// taken as happening at the previous one's time.
func (e *Engine) Feed(ev event.Event) { e.feed(&ev) }

// FeedBatch feeds evs in order, as Feed each of them (without copying
// them: the offline reader hands out blocks of events).
func (e *Engine) FeedBatch(evs []event.Event) {
	for i := range evs {
		e.feed(&evs[i])
	}
}

// feed is Feed; it does not modify *ev.
func (e *Engine) feed(ev *event.Event) {
	if ev.Kind == event.KindPartial {
		e.partial(ev)
		return
	}
	t := ev.Time
	if !e.started {
		e.started = true
		e.start, e.end, e.lastProg = t, t, t
	}
	if t < e.end {
		e.input.OutOfOrder++
		t = e.end
	}
	e.end = t
	if ev.Kind == event.KindLost {
		e.input.Lost = event.AddCount(e.input.Lost, ev.Count)
		e.expire(t)
		e.lost(t)
		return
	}
	e.input.Events++
	class := e.countName(ev.Name)
	e.expire(t)
	if !e.busyCut && e.fj.completeFrom > 0 && t >= e.fj.completeFrom {
		// The busy time before the trace is complete is no evidence
		// either: the measured share starts here.
		e.busyCut = true
		e.busyBefore = e.busyTotal
		if e.out > 0 {
			e.busyBefore += max(0, e.fj.completeFrom-e.busySince)
		}
	}
	// Before completeFrom, neither the stretch this event ends nor the
	// one it begins is evidence: incomplete before and after it (no
	// defer: this is every event's path).
	early := t < e.fj.completeFrom
	if early {
		e.incomplete()
	}
	if ev.Kind == event.KindEmit || class == classFence {
		e.fence(ev, t)
	} else {
		if c := int(ev.HWJobCount); c > e.hwDepth {
			e.hwDepth = c
		}
		switch ev.Kind {
		case event.KindQueue, event.KindRun:
			if class == classOther || !e.sourceEvent(ev, class, t) {
				e.schedSeen(t)
				e.submit(ev, t, viaSched)
			}
		case event.KindDone:
			e.done(ev, e.findJob(ev.Job), t)
		}
	}
	if early {
		e.incomplete()
	}
}

type nameCount struct {
	name  string
	n     uint64
	class nameClass // classOf(name)
}

// countName counts one event of name and reports classOf(name), kept
// with the name's count. Names come from a few constant strings, so the
// comparison mostly matches on the first entries.
func (e *Engine) countName(name string) nameClass {
	for i := range e.names {
		if c := &e.names[i]; c.name == name {
			c.n++
			return c.class
		}
	}
	class := classOf(name)
	if len(e.names) < maxNames {
		e.names = append(e.names, nameCount{name, 1, class})
		return class
	}
	e.input.ByName[name]++
	return class
}

// maxNames bounds the names counted in the list; more go to the map.
const maxNames = 64

// byName returns the counts by name.
func (e *Engine) byName() map[string]uint64 {
	m := maps.Clone(e.input.ByName)
	for _, c := range e.names {
		m[c.name] += c.n
	}
	return m
}

// isFenceEvent reports whether name is a dma_fence (fence, ≤ 4.9) tracepoint.
func isFenceEvent(name string) bool {
	return strings.HasPrefix(name, "dma_fence:") || strings.HasPrefix(name, "fence:")
}

// fence handles dma_fence_emit / dma_fence_signaled (keyed by
// context:seqno, the ring in the timeline name). They describe jobs only
// where the scheduler's own events are absent: an emitted fence is a job on
// the hardware ring until it signals. Once scheduler submissions are seen,
// new emits are ignored (the same jobs would count twice). A signal for a
// fence never seen emitted is ignored: most signalled fences are software
// or scheduler fences, not hardware progress.
func (e *Engine) fence(ev *event.Event, t int64) {
	switch ev.Kind {
	case event.KindEmit:
		if e.sawSched || ev.Job.IsZero() {
			return
		}
		run := *ev
		run.Kind = event.KindRun
		e.submit(&run, t, viaFence)
	case event.KindDone:
		// Jobs followed through emits are dropped at the first
		// scheduler submission: from then on, no lookup.
		if !e.sawSched && !ev.Job.IsZero() {
			if i := e.jobs.find(ev.Job); i >= 0 && e.jobs.slots[i].rec.via == viaFence {
				e.done(ev, i, t)
				return
			}
		}
		e.fenceSignal(ev, t)
	}
}

// Advance tells the engine that trace time has reached now without events
// (live sources call it on each tick).
func (e *Engine) Advance(now int64) {
	if !e.started || now <= e.end {
		return
	}
	e.end = now
	e.expire(now)
}

func (e *Engine) ring(name string) int {
	// A trace has a few rings: a scan (the parser hands out the same
	// string for a ring each time, so most comparisons are a pointer
	// check) is cheaper than hashing the name.
	if len(e.rings) <= maxScanRings {
		for i := range e.rings {
			if e.rings[i].name == name {
				return i
			}
		}
	} else if i, ok := e.ringIdx[name]; ok {
		return i
	}
	if len(e.rings) >= maxRings {
		e.input.RingsCapped++
		name = otherName
		if i, ok := e.ringIdx[name]; ok {
			return i
		}
	}
	e.rings = append(e.rings, ringState{name: name, procIdx: map[procKey]int{}})
	i := len(e.rings) - 1
	e.ringIdx[name] = i
	return i
}

// maxScanRings is how many rings ring() scans before it uses the map.
const maxScanRings = 16

// otherName names the ring and the task that stand for all those beyond
// maxRings and maxProcs.
const otherName = "(other)"

// proc returns the index of the task in the ring's table; capped is true
// when the table is full and the task was merged into "(other)".
func (r *ringState) proc(comm string, pid int32) (i int, capped bool) {
	// Consecutive jobs of a ring mostly come from one task.
	if i := r.lastProc; i < len(r.procs) && r.procs[i].pid == pid && r.procs[i].comm == comm {
		return i, false
	}
	k := procKey{comm, pid}
	if i, ok := r.procIdx[k]; ok {
		r.lastProc = i
		return i, false
	}
	if len(r.procs) >= maxProcs {
		capped = true
		k = procKey{otherName, -1}
		if i, ok := r.procIdx[k]; ok {
			return i, true
		}
	}
	r.procs = append(r.procs, procState{comm: k.comm, pid: k.pid})
	i = len(r.procs) - 1
	r.procIdx[k] = i
	r.lastProc = i
	return i, capped
}

// submit follows the job ev queues or runs. src is the source it is
// followed through, set on its record; viaSched leaves the source of a job
// followed already as it is.
func (e *Engine) submit(ev *event.Event, t int64, src via) {
	if ev.Job.IsZero() {
		return
	}
	ri := e.ring(ev.Ring)
	r := &e.rings[ri]
	isRun := ev.Kind == event.KindRun
	if isRun && !r.sawRun {
		r.sawRun = true
	}
	slot, found := e.jobs.probe(ev.Job)
	if found {
		rec := &e.jobs.slots[slot].rec
		if isRun && !rec.hasR && int(rec.ring) == ri {
			if src != viaSched {
				rec.via = src
			}
			rec.hasR, rec.run = true, t
			if !rec.counted {
				rec.counted, rec.epoch = true, e.epoch
				e.incOut(int(rec.ring), int(rec.proc), t)
			}
			return
		}
		// The key is reused (or queued twice): the earlier job's
		// completion was lost. It finished some time before now.
		e.retire(ev.Job, *rec, t, false)
		slot = -1 // the table changed
	}
	rec := jobRec{first: t, ring: int32(ri), entity: ev.Entity, epoch: e.epoch, via: src}
	pi, capped := r.proc(ev.Comm, ev.PID)
	rec.proc = int32(pi)
	if capped {
		e.input.TasksCapped++
	}
	if isRun {
		rec.hasR, rec.run = true, t
	} else {
		rec.hasQ, rec.queue = true, t
	}
	// Where the ring reports runs, a job is in flight from its run (a
	// queued job may wait on dependencies, not on the GPU); otherwise
	// from its queueing.
	if isRun || !r.sawRun {
		rec.counted = true
		e.incOut(ri, int(rec.proc), t)
	}
	if slot >= 0 {
		e.jobs.put(slot, ev.Job, rec) // the slot probe found: one probe, not two
	} else {
		e.jobs.set(ev.Job, rec)
	}
	if e.jobs.len() > e.maxJob {
		e.expireOldest(t)
	}
	e.order.push(orderEnt{ev.Job, t})
	r.order.push(orderEnt{ev.Job, t})
}

func (e *Engine) incOut(ri, pi int, t int64) {
	if e.out == 0 {
		e.busySince = t
		if e.idleOpen {
			e.idleOpen = false
			if d := t - e.idleSince; d > e.floor {
				// a real idle stretch (not a completion followed at once by
				// the next submission) breaks the run of busy turns
				e.zeros++
			}
			if !e.idleTaint {
				e.idleH.add(t - e.idleSince)
				e.addCand(cand{start: e.idleSince, end: t, idle: true, compStart: e.completions, compEnd: e.completions, zeroStart: e.zeros, zeroEnd: e.zeros})
			}
		}
	}
	e.out++
	r := &e.rings[ri]
	if r.out == 0 {
		r.busySince = t
	}
	r.out++
	p := &r.procs[pi]
	if p.out == 0 {
		p.busySince = t
	}
	p.out++
}

// decOut removes a counted job of the current epoch from the outstanding counts.
func (e *Engine) decOut(rec *jobRec, t int64) {
	if !rec.counted || rec.epoch != e.epoch {
		return
	}
	r := &e.rings[rec.ring]
	p := &r.procs[rec.proc]
	if p.out--; p.out == 0 {
		p.busy += t - p.busySince
	}
	if r.out--; r.out == 0 {
		r.busy += t - r.busySince
	}
	if e.out--; e.out == 0 {
		e.busyTotal += t - e.busySince
		e.idleOpen, e.idleSince, e.idleTaint = true, t, false
	}
}

// findJob is jobs.find(k), without a probe for the zero key (no job is
// filed under it).
func (e *Engine) findJob(k event.JobKey) int {
	if k.IsZero() {
		return -1
	}
	return e.jobs.find(k)
}

// done handles the completion ev of the job in slot i of the table (from
// findJob, so that a caller that looked the job up already does not look
// it up again), or of no followed job when i < 0.
func (e *Engine) done(ev *event.Event, i int, t int64) {
	e.completions++
	if e.recentDone.size >= recentDoneCap {
		e.recentDone.pop()
	}
	e.recentDone.push(t)
	if i < 0 {
		// A completion with no known submission (queued before the trace
		// began, or its submission was lost) is still progress.
		e.input.Unmatched++
		if ev.Ring != "" {
			e.rings[e.ring(ev.Ring)].jobs++
		}
		e.progress(t)
		if e.idleOpen {
			// Something was in flight that we did not know of: the
			// stretch before it was not idle.
			e.idleSince = t
		}
		return
	}
	rec := e.jobs.takeAt(i)
	e.matched++
	r := &e.rings[rec.ring]
	r.jobs++
	r.procs[rec.proc].jobs++
	sub := rec.queue
	if rec.hasR {
		sub = rec.run
	}
	r.lat.add(t - sub)
	e.progress(t)
	e.retireOlder(ev.Job, &rec, t)
	e.decOut(&rec, t)
}

// retireOlder retires jobs of rec's ring that must have completed before
// rec: a ring executes its jobs in order, so a job run before rec (or, with
// no run events, queued before it by the same entity) is done by now; its
// completion event was lost.
func (e *Engine) retireOlder(key event.JobKey, rec *jobRec, t int64) {
	r := &e.rings[rec.ring]
	if r.name == "" {
		return
	}
	for r.order.size > 0 {
		f := r.order.front()
		if f.key == key && f.first == rec.first {
			// rec itself, done: no lookup needed.
			r.order.pop()
			continue
		}
		o, ok := e.jobs.get(f.key)
		if !ok || o.first != f.first || o.ring != rec.ring {
			r.order.pop()
			continue
		}
		older := false
		if rec.hasR && o.hasR {
			older = o.run < rec.run
		} else if !rec.hasR && !o.hasR && rec.entity != 0 && o.entity == rec.entity {
			older = o.queue < rec.queue
		} else if rec.hasR && !o.hasR && !o.counted {
			// Queued first, never seen run (its run event was lost, or
			// it waits on a dependency while other entities' jobs run):
			// not outstanding, and no reason to hold up the jobs behind
			// it. It stays followed; its completion still matches.
			r.order.pop()
			continue
		}
		if !older {
			return
		}
		key := f.key
		r.order.pop()
		e.retire(key, o, t, false)
	}
}

// retire drops a job whose completion event never came.
func (e *Engine) retire(key event.JobKey, rec jobRec, t int64, expired bool) {
	e.jobs.del(key)
	if expired {
		e.input.Expired++
		if rec.counted && rec.epoch == e.epoch {
			// We do not know when it really finished: the stretch
			// it kept busy is not evidence.
			e.tainted = true
		}
	} else {
		e.input.Implied++
		e.rings[rec.ring].jobs++
		e.rings[rec.ring].procs[rec.proc].jobs++
	}
	wasOut := e.out
	e.decOut(&rec, t)
	if expired && wasOut > 0 && e.out == 0 {
		e.idleTaint = true
	}
}

// expire retires the jobs whose completion must have been lost: those
// submitted more than MaxJobAge before the latest completion. Age counts
// only while the GPU makes progress: while nothing completes at all (the VF
// switched out for seconds, a host outage) the jobs are waiting, not lost,
// and the stretch stays one no-progress window however long it lasts.
func (e *Engine) expire(t int64) {
	lim := min(t, e.lastProg) - e.maxAge
	for e.order.size > 0 {
		f := e.order.front()
		if f.first >= lim && e.order.size <= 2*e.jobs.len()+64 {
			// Nothing to expire; entries of finished jobs are dropped
			// once they are half the list.
			return
		}
		rec, ok := e.jobs.get(f.key)
		if !ok || rec.first != f.first {
			e.order.pop()
			continue
		}
		if f.first >= lim {
			return
		}
		key := f.key
		e.order.pop()
		e.retire(key, rec, t, true)
	}
}

func (e *Engine) expireOldest(t int64) {
	for e.order.size > 0 {
		f := *e.order.front()
		rec, ok := e.jobs.get(f.key)
		key := f.key
		e.order.pop()
		if ok && rec.first == f.first {
			e.retire(key, rec, t, true)
			return
		}
	}
}

// lost handles a lost-events marker: completions may be missing, so the
// outstanding counts can no longer be trusted. Jobs already submitted stay
// followed (a later completion still matches them and still counts as
// progress) but no longer count as outstanding; the stretch in progress is
// not evidence.
func (e *Engine) lost(t int64) {
	e.epoch++
	e.tainted = true
	for i := range e.rings {
		r := &e.rings[i]
		for j := range r.procs {
			p := &r.procs[j]
			if p.out > 0 {
				p.busy += t - p.busySince
				p.out = 0
			}
		}
		if r.out > 0 {
			r.busy += t - r.busySince
			r.out = 0
		}
	}
	if e.out > 0 {
		e.busyTotal += t - e.busySince
		e.out = 0
		e.zeros++
	}
	if !e.idleOpen {
		e.idleOpen, e.idleSince = true, t
	}
	e.idleTaint = true
}

// progress records a completion at t: it ends the current no-progress
// stretch. It runs before the completed job leaves the counts.
func (e *Engine) progress(t int64) {
	b := &e.burst
	if b.open && t-b.at > stealGap {
		b.open = false
	}
	if b.open {
		// A completion delivered with the previous one.
		b.n++
		b.at = t
		if b.steal {
			// part of a steal's burst: no gap of the GPU's
			e.lastProg, e.tainted = t, false
			return
		}
	}
	if e.out > 0 && !e.tainted {
		bs := max(e.lastProg, e.busySince)
		d := t - bs
		anchored := e.busySince <= e.lastProg
		e.busyH.add(d)
		if anchored {
			e.anchH.add(d)
		}
		if d >= e.floor {
			b := binOf(d, gapSub)
			for i := range e.rings {
				r := &e.rings[i]
				if r.out == 0 {
					continue
				}
				r.stall[b] += float64(t - max(e.lastProg, r.busySince))
				for j := range r.procs {
					if p := &r.procs[j]; p.out > 0 {
						p.stall[b] += float64(t - max(e.lastProg, p.busySince))
					}
				}
			}
			if d >= longMin {
				e.noteLong(Window{Start: bs, End: t, InFlight: e.out})
			}
			e.addCand(cand{start: bs, end: t, anchored: anchored, inflight: e.out,
				compStart: e.compAtLast(), compEnd: e.completions, zeroStart: e.zeros, zeroEnd: e.zeros})
		} else if !anchored {
			if e.short.size >= shortCap {
				e.short.pop()
			}
			e.short.push(span{bs, t, e.out})
		}
		if e.busyH.n >= e.floorCheck {
			e.updateFloor()
		}
		if b.open {
			if len(b.gaps) < cap(b.gaps) {
				b.gaps = append(b.gaps, burstGap{d, anchored})
			}
			e.noteBurst()
		} else {
			// Field by field: a composite literal would be built on the
			// stack and copied with a write barrier (gaps), per completion.
			b.open, b.n, b.at, b.start, b.gap = true, 0, t, bs, d
			b.anchored, b.cand, b.steal, b.inflight = anchored, d >= e.floor, false, e.out
			b.gaps = b.gaps[:0]
		}
	}
	e.lastProg = t
	e.tainted = false
}

// burstState follows the completions that close a no-progress stretch
// with work outstanding while they come within stealGap of each other.
type burstState struct {
	open     bool
	n        int   // completions after the first
	at       int64 // the latest of them
	start    int64 // the stretch they close: [start, start+gap]
	gap      int64
	anchored bool
	cand     bool // the stretch is a candidate
	steal    bool // taken for a steal
	inflight int
	// gaps are the burst's own gaps, as recorded in the histograms
	gaps []burstGap
}

type burstGap struct {
	d        int64
	anchored bool
}

// noteBurst decides, as the completions closing a stretch keep coming
// together, whether the stretch was steal: clearly longer than the
// normal spacing (four times), and closed at once by the completions of
// every job that was in flight (at least two: the ring ran dry while the
// guest did not look; the stretch under half the typical window), or by
// at least three, half as many as the GPU finishes in the stretch at the
// normal spacing. The GPU kept running
// while the guest's vCPU was descheduled by the host. A switch-in brings
// one completion, the straddling job's, then the normal spacing: a ring
// runs one job at a time, and the GPU did nothing while switched out. A steal stretch and its
// burst leave the gap histograms (they are no gaps of the GPU's), and its
// candidate becomes one of its own kind.
func (e *Engine) noteBurst() {
	b := &e.burst
	if b.steal || b.n < 1 || e.floor == 0 {
		return
	}
	mean := e.normalMean
	if mean <= 0 || float64(b.gap) < 4*mean {
		return
	}
	// Every job that was in flight, done at once (the ring ran dry
	// while nobody looked) in a stretch shorter than half the typical
	// window (a switch-out whose next job happened to be very short
	// would otherwise pass), or as many as the GPU does in the stretch.
	need := b.inflight
	if e.hwDepth > 0 {
		// Queued jobs beyond the hardware ring's depth could not run
		// while nobody looked: the ring holds at most hwDepth.
		need = min(need, e.hwDepth)
	}
	many := b.n+1 >= 3 && float64(b.n+1)*mean >= 0.5*float64(b.gap)
	if !many {
		// The median window is two passes over the histogram: only
		// when it decides.
		all := b.n+1 >= 2 && b.n+1 >= need
		if !all {
			return
		}
		if typical := medianWindow(&e.busyH, binOf(e.floor, gapSub)); typical <= 0 || float64(b.gap) >= 0.5*typical {
			return
		}
	}
	b.steal = true
	e.stealSum += b.gap
	for _, g := range append(b.gaps, burstGap{b.gap, b.anchored}) {
		e.busyH.remove(g.d)
		if g.anchored {
			e.anchH.remove(g.d)
		}
	}
	if b.cand {
		// the stretch's candidate, maybe followed by an idle one (the
		// burst's first completions emptied the queue for a moment)
		for i := e.cands.len() - 1; i >= 0 && i >= e.cands.len()-8; i-- {
			if c := e.cands.at(i); !c.idle && c.start == b.start && c.end == b.start+b.gap {
				c.steal = true
				e.candGen++
				return
			}
		}
		return
	}
	// Shorter than the floor: a candidate of its own, kept in end order,
	// and no longer a short stretch that began after idle (it would be
	// listed twice, and taken for a switch-out's tail).
	if n := e.short.size; n > 0 {
		if st := e.short.at(n - 1); st.start == b.start && st.end == b.start+b.gap {
			e.short.dropBack()
		}
	}
	e.addCand(cand{start: b.start, end: b.start + b.gap, anchored: b.anchored, inflight: b.inflight, steal: true,
		compStart: e.compAtLast(), compEnd: e.compAtLast(), zeroStart: e.zeros, zeroEnd: e.zeros})
	for i := e.cands.len() - 1; i > 0 && e.cands.at(i-1).end > e.cands.at(i).end; i-- {
		*e.cands.at(i - 1), *e.cands.at(i) = *e.cands.at(i), *e.cands.at(i - 1)
	}
}

// normalGap is the mean of the gaps with work outstanding longer than
// stealGap (shorter ones are fences signalled together, not jobs served)
// and below the candidate floor: the normal completion spacing (0 before
// any).
func (e *Engine) normalGap() float64 {
	var n uint64
	var s float64
	for b := binOf(stealGap, gapSub) + 1; b < binOf(e.floor, gapSub) && b < nbGap; b++ {
		n += e.busyH.count[b]
		s += e.busyH.sum[b]
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// compAtLast is the completion count at the previous completion (the one
// being processed is already counted).
func (e *Engine) compAtLast() uint64 {
	if e.completions == 0 {
		return 0
	}
	return e.completions - 1
}

// updateFloor sets the candidate floor: stretches shorter than the
// floor cannot become windows (they are normal spacing), so they are
// only counted in histograms. Before 64 stretches everything is kept.
func (e *Engine) updateFloor() {
	e.floorCheck = e.busyH.n + 64 + e.busyH.n/8
	if e.busyH.n < 64 {
		e.floor = 0
		return
	}
	med := binLow(e.busyH.quantileBin(0.5), gapSub)
	f := med + med/2
	if th, ok := findThreshold(&e.busyH); ok {
		f = max(f, binLow(th.bin, gapSub)*3/4)
	}
	e.floor = f
	e.normalMean = e.normalGap()
}

// stealGap: completions at most this far apart are delivered together
// (one interrupt handler signalling the fences of every job that finished
// meanwhile), not finished one by one.
const stealGap = int64(10 * time.Microsecond)

const (
	// longMin is the shortest stretch kept among the long ones: longer
	// than any turn's off-time up to 8 VFs at 6 ms; the snapshot raises the
	// bar to a few periods once the schedule is known.
	longMin = int64(50 * time.Millisecond)
	longCap = 64
)

// noteLong keeps w among the longest stretches: beyond longCap the
// shortest is dropped.
func (e *Engine) noteLong(w Window) {
	e.long = append(e.long, w)
	if len(e.long) <= longCap {
		return
	}
	k := 0
	for i := range e.long {
		if e.long[i].Duration() < e.long[k].Duration() {
			k = i
		}
	}
	e.long = append(e.long[:k], e.long[k+1:]...)
}

func (e *Engine) addCand(c cand) {
	e.cands.push(c)
	e.candGen++
	lim := offlineCandCap
	if e.cfg.Horizon > 0 {
		lim = liveCandCap
	}
	if e.cands.len() >= lim {
		e.compactCands()
	}
}

// compactCands bounds the candidate store: live, it keeps the newest half;
// offline, it drops stretches that cannot be windows under the current
// threshold (and, if that is not enough, the oldest half).
func (e *Engine) compactCands() {
	cs := &e.cands
	n := cs.len()
	if e.cfg.Horizon == 0 {
		if th, ok := findThreshold(&e.busyH); ok {
			lo := binLow(th.bin, gapSub) * 3 / 4
			k := 0
			for i := range n {
				if c := cs.at(i); c.end-c.start >= lo {
					*cs.at(k) = *c
					k++
				}
			}
			// The kept ones are now the first k.
			cs.truncate(k)
			if k < n*3/4 {
				return
			}
			n = k
		}
	}
	for i := n / 2; i < n; i++ {
		*cs.at(i - n/2) = *cs.at(i)
	}
	cs.truncate(n - n/2)
	e.candsDropped = true
}
