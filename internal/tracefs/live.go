package tracefs

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/ftrace"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// Refusals of Open. Each is one sentence naming what is missing and
// how to fix it; test with errors.Is.
var (
	ErrNotRoot   = errors.New("reading tracefs needs root: run gpuwatch watch with sudo")
	ErrNoTracefs = errors.New("tracefs is not mounted and could not be mounted: mount it with 'mount -t tracefs nodev /sys/kernel/tracing'")
	ErrNoEvents  = errors.New("no gpu_scheduler or gpu_sched events in tracefs: is amdgpu or another drm_sched driver loaded?")
)

// Options configures Open.
type Options struct {
	// Root is the tracefs mount point; "" discovers /sys/kernel/tracing or
	// /sys/kernel/debug/tracing and mounts tracefs when neither exists.
	Root string
	// Events are "system:event" names to enable; nil means every Known
	// event that exists.
	Events []string
	// BufferKB is the per-CPU ring buffer size of the instance; 0 keeps the
	// kernel's default.
	BufferKB int
	// Clock is the trace clock; "" means "mono" (CLOCK_MONOTONIC, as
	// Now and eBPF's bpf_ktime_get_ns).
	Clock string
	// Delay is the margin for events reserved before a read of an empty
	// buffer but committed after it: a CPU read empty at time T vouches
	// for its events up to T-Delay. 0 means 5 ms.
	Delay time.Duration
	// Mappings, when set, replace the Known table: the tracepoints they
	// name are enabled and decoded through them (Events is then ignored),
	// with an instance filter passing only the mappings' Filter values.
	// Tests use it to map a real tracepoint whose fields they control onto
	// scheduler events, exactly as they do for the eBPF source.
	Mappings []ftrace.Mapping
	// Poll is the reader's sleep between reads of a buffer found empty
	// several times in a row (2 ms while events flow); 0 means 10 ms. It
	// bounds the latency of the first event after a quiet spell.
	Poll time.Duration
}

// Stats counts what the live source read.
type Stats struct {
	Pages   uint64 // pages read
	Records uint64 // records decoded (all events of the instance)
	Events  uint64 // scheduler events emitted
	Lost    uint64 // events the kernel reported lost
	// LostUnknown counts pages flagged "events missed" whose count the
	// kernel did not store (Lost then falls back to the CPU's overrun counter).
	LostUnknown uint64
	Errors      uint64 // pages that failed to decode
}

// Source is a live tracefs source: its own instance, the known scheduler
// events enabled, every CPU's trace_pipe_raw read and merged in time order.
type Source struct {
	root, inst string
	owner      *instanceOwner
	stale      []string // abandoned instances removed at open
	mounted    bool
	enabled    []string // event dirs enabled in the instance
	names      []string
	clock      string
	delay      int64
	poll       time.Duration

	layout   ftrace.PageLayout
	header   ftrace.HeaderEvent
	formats  []*ftrace.Format // of the enabled events; each reader builds its Decoder
	mappings []ftrace.Mapping // what the formats decode to

	ch chan batch
	// stopping is closed by Stop once tracing is off: each reader then
	// reads its CPU until empty, sends a last batch and ends. abort is
	// closed by Close when the consumer did not take the drained events
	// within drainGrace: readers end at once. done is closed when
	// every reader has ended.
	stopping, abort, done chan struct{}
	stopOnce              sync.Once
	wg                    sync.WaitGroup
	queues                []queue
	heap                  cpuHeap
	bound                 int64
	fds                   []int
	// watermark is a time no event still to be returned by Next can
	// precede: what Now reports, so that a consumer advancing its clock to
	// Now never gets an event from the past.
	watermark atomic.Int64

	closeOnce sync.Once
	closeErr  error
	readErr   atomic.Pointer[error]

	pages, records, events, lost, lostUnknown, decErrs atomic.Uint64
}

type batch struct {
	cpu  int
	evs  []event.Event
	safe int64 // every event of cpu before this time has been sent
}

type queue struct {
	evs  []event.Event
	safe int64
}

// Events returns the events the source enabled, as "system:event".
func (l *Source) Events() []string { return append([]string(nil), l.names...) }

// Tracepoints returns the tracepoints enabled in the instance, as
// "system:event" (mapped ones under their own names).
func (l *Source) Tracepoints() []string {
	var tps []string
	for _, f := range l.formats {
		tps = append(tps, f.System+":"+f.Name)
	}
	return tps
}

// Instance returns the instance directory.
func (l *Source) Instance() string { return l.inst }

// Removed returns the abandoned gpuwatch instances (of killed runs) that
// Open removed.
func (l *Source) Removed() []string { return append([]string(nil), l.stale...) }

// Stats returns the counters so far.
func (l *Source) Stats() Stats {
	return Stats{Pages: l.pages.Load(), Records: l.records.Load(), Events: l.events.Load(),
		Lost: l.lost.Load(), LostUnknown: l.lostUnknown.Load(), Errors: l.decErrs.Load()}
}

// Now is the source's current time on the trace clock (CLOCK_MONOTONIC,
// ns): the merge watermark, behind which no event can still come. Raw
// CLOCK_MONOTONIC would run ahead of events still buffered per CPU. Safe
// from any goroutine.
func (l *Source) Now() int64 { return l.watermark.Load() }

// mono is CLOCK_MONOTONIC. unix.ClockGettime is a real system call;
// Go's monotonic clock reads the same clock through the vDSO, so one
// calibration at start gives CLOCK_MONOTONIC at the cost of time.Since.
func mono() int64 { return startMono + int64(time.Since(startWall)) }

var startMono, startWall = func() (int64, time.Time) {
	var ts unix.Timespec
	t0 := time.Now()
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano(), t0
}()

// mountRoot finds tracefs (FindRoot), or mounts it at Roots[0] when none
// is found; mounted says Open must unmount it at Close.
func mountRoot() (root string, mounted bool, err error) {
	if d, err := FindRoot(); err == nil {
		return d, false, nil
	}
	d := Roots[0]
	if err := unix.Mount("nodev", d, "tracefs", 0, ""); err != nil {
		return "", false, fmt.Errorf("%w (mount: %v)", ErrNoTracefs, err)
	}
	if _, err := os.Stat(filepath.Join(d, "events", "header_page")); err != nil {
		unix.Unmount(d, 0)
		return "", false, ErrNoTracefs
	}
	return d, true, nil
}

// discover returns the Known (or requested) events that exist under dir.
func discover(dir string, want []string) ([]*tracepoint.Spec, error) {
	var specs []*tracepoint.Spec
	if want == nil {
		for i := range tracepoint.Known {
			s := &tracepoint.Known[i]
			if _, err := os.Stat(filepath.Join(dir, s.System, s.Event, "format")); err == nil {
				specs = append(specs, s)
			}
		}
		return specs, nil
	}
	for _, n := range want {
		sys, ev, ok := strings.Cut(n, ":")
		s, known := tracepoint.Lookup(sys, ev)
		if !ok || !known {
			return nil, fmt.Errorf("unknown event %q: expected system:event of a known scheduler event", n)
		}
		if _, err := os.Stat(filepath.Join(dir, s.System, s.Event, "format")); err != nil {
			return nil, fmt.Errorf("event %s is not in %s", n, dir)
		}
		specs = append(specs, s)
	}
	return specs, nil
}

func write(path, val string) error {
	if err := os.WriteFile(path, []byte(val), 0); err != nil {
		return fmt.Errorf("writing %q to %s: %w", val, path, err)
	}
	return nil
}

// Open starts the live tracefs source.
func Open(opts Options) (*Source, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	l := &Source{root: opts.Root, clock: opts.Clock, delay: int64(opts.Delay), poll: opts.Poll}
	if l.clock == "" {
		l.clock = "mono"
	}
	if l.delay <= 0 {
		l.delay = int64(5 * time.Millisecond)
	}
	if l.poll <= 0 {
		l.poll = 10 * time.Millisecond
	}
	if l.root == "" {
		var err error
		if l.root, l.mounted, err = mountRoot(); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(l.root, "events")); err != nil {
		return nil, fmt.Errorf("%w (%s has no events directory)", ErrNoTracefs, l.root)
	}
	fail := func(err error) (*Source, error) {
		l.cleanup()
		return nil, err
	}
	var specs []*tracepoint.Spec // the tracepoints to enable (System, Event)
	if len(opts.Mappings) > 0 {
		l.mappings = opts.Mappings
		seen := map[string]bool{}
		for _, m := range opts.Mappings {
			if seen[m.System+":"+m.Event] {
				continue
			}
			seen[m.System+":"+m.Event] = true
			if _, err := os.Stat(filepath.Join(l.root, "events", m.System, m.Event, "format")); err != nil {
				return fail(fmt.Errorf("mapped event %s:%s is not in %s", m.System, m.Event, filepath.Join(l.root, "events")))
			}
			specs = append(specs, &tracepoint.Spec{System: m.System, Event: m.Event})
		}
	} else {
		var err error
		if specs, err = discover(filepath.Join(l.root, "events"), opts.Events); err != nil {
			return fail(err)
		}
		sched := false
		for _, s := range specs {
			if s.System == "gpu_scheduler" || s.System == "gpu_sched" {
				sched = true
			}
			l.mappings = append(l.mappings, ftrace.Mapping{System: s.System, Event: s.Event, Spec: *s})
		}
		if !sched {
			return fail(ErrNoEvents)
		}
	}
	var err error
	if l.layout, err = readWith(filepath.Join(l.root, "events", "header_page"), ftrace.ParseHeaderPage); err != nil {
		return fail(err)
	}
	if l.header, err = readWith(filepath.Join(l.root, "events", "header_event"), ftrace.ParseHeaderEvent); err != nil {
		return fail(err)
	}
	for _, s := range specs {
		p := filepath.Join(l.root, "events", s.System, s.Event, "format")
		f, err := readWith(p, ftrace.ParseFormat)
		if err != nil {
			return fail(fmt.Errorf("reading format of %s: %w", s.Name(), err))
		}
		f.System = s.System // the file does not name its system
		l.formats = append(l.formats, f)
		l.names = append(l.names, s.Name())
	}

	l.stale = removeStale(l.root)
	if l.owner, err = claim(); err != nil {
		return fail(err)
	}
	inst := filepath.Join(l.root, "instances", l.owner.name)
	if err := os.Mkdir(inst, 0o755); err != nil {
		return fail(fmt.Errorf("creating tracefs instance: %w", err))
	}
	l.inst = inst
	if err := write(filepath.Join(inst, "tracing_on"), "0"); err != nil {
		return fail(err)
	}
	if err := write(filepath.Join(inst, "trace_clock"), l.clock); err != nil {
		return fail(err)
	}
	if _, err := os.Stat(filepath.Join(inst, "buffer_percent")); err == nil {
		if err := write(filepath.Join(inst, "buffer_percent"), "0"); err != nil {
			return fail(err)
		}
	}
	if opts.BufferKB > 0 {
		if err := write(filepath.Join(inst, "buffer_size_kb"), strconv.Itoa(opts.BufferKB)); err != nil {
			return fail(err)
		}
	}
	for _, s := range specs {
		if f := filter(l.mappings, s.System, s.Event); f != "" {
			if err := write(filepath.Join(inst, "events", s.System, s.Event, "filter"), f); err != nil {
				return fail(fmt.Errorf("filtering %s: %w", s.Name(), err))
			}
		}
		p := filepath.Join(inst, "events", s.System, s.Event, "enable")
		if err := write(p, "1"); err != nil {
			return fail(err)
		}
		l.enabled = append(l.enabled, p)
	}

	cpus, err := bufferCPUs(inst)
	if err != nil {
		return fail(err)
	}
	maxCPU := cpus[len(cpus)-1]
	l.queues = make([]queue, maxCPU+1)
	l.heap.queues = l.queues
	l.bound = -1 << 63
	for i := range l.queues {
		l.queues[i].safe = 1<<63 - 1 // CPUs without a reader never hold events back
	}
	for _, c := range cpus {
		// A raw non-blocking fd, read between sleeps on Go timers.
		// Measured here: waiting in poll(2) keeps the runtime's sysmon
		// busy (a thread blocked in a system call), and Go's poller
		// (epoll) is woken by trace_pipe_raw for nearly every event;
		// both cost several times more CPU than polling reads.
		p := filepath.Join(inst, "per_cpu", "cpu"+strconv.Itoa(c), "trace_pipe_raw")
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(fmt.Errorf("opening trace_pipe_raw of cpu %d: %w", c, err))
		}
		l.fds = append(l.fds, fd)
		l.queues[c].safe = 0
	}
	if err := write(filepath.Join(inst, "tracing_on"), "1"); err != nil {
		return fail(err)
	}
	l.ch = make(chan batch, 16*len(cpus))
	l.stopping, l.abort, l.done = make(chan struct{}), make(chan struct{}), make(chan struct{})
	for i, c := range cpus {
		l.wg.Add(1)
		go l.readCPU(c, l.fds[i])
	}
	go func() {
		l.wg.Wait()
		close(l.done)
	}()
	return l, nil
}

func readWith[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// bufferCPUs returns, sorted, the CPUs the instance has a ring buffer for:
// its per_cpu/cpuN directories, which the kernel makes for every possible
// CPU (tracing_buffer_mask is cpu_possible_mask), online or not.
func bufferCPUs(inst string) ([]int, error) {
	ents, err := os.ReadDir(filepath.Join(inst, "per_cpu"))
	if err != nil {
		return nil, fmt.Errorf("listing CPUs: %w", err)
	}
	var cpus []int
	for _, e := range ents {
		if n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "cpu")); err == nil && strings.HasPrefix(e.Name(), "cpu") {
			cpus = append(cpus, n)
		}
	}
	if len(cpus) == 0 {
		return nil, errors.New("listing CPUs: no per_cpu/cpuN directories")
	}
	sort.Ints(cpus)
	return cpus, nil
}

// readCPU reads one CPU's pages until Stop, then until the CPU's buffer is
// empty; its last batch says what the kernel lost that no page reported.
func (l *Source) readCPU(cpu int, fd int) {
	defer l.wg.Done()
	page := make([]byte, l.layout.PageSize())
	comm := map[int32]string{}
	// A Decoder per reader: it interns ring names and is not safe for
	// concurrent use.
	dec := ftrace.NewDecoderMappings(l.formats, l.mappings)
	statsPath := filepath.Join(l.inst, "per_cpu", "cpu"+strconv.Itoa(cpu), "stats")
	lastOverrun := stat(statsPath, "overrun")
	var counted uint64 // events of this CPU reported lost so far
	var evs []event.Event
	idle := 0
	send := func(safe int64) bool {
		select {
		case l.ch <- batch{cpu: cpu, evs: evs, safe: safe}:
			evs = nil
			return true
		case <-l.abort:
			// Nobody takes them any more: count them lost.
			var n uint64
			for _, ev := range evs {
				if ev.Kind != event.KindLost {
					n++
				}
			}
			l.lost.Add(n)
			return false
		}
	}
	for {
		select {
		case <-l.abort:
			return
		default:
		}
		stopping := false
		select {
		case <-l.stopping:
			stopping = true
		default:
		}
		before := mono()
		n, err := unix.Read(fd, page)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n <= 0 || err != nil {
			if err != nil && !errors.Is(err, unix.EAGAIN) {
				l.readErr.CompareAndSwap(nil, &err)
			}
			if stopping {
				// Tracing was off before this read found the buffer
				// empty: everything the CPU recorded has been read, or
				// lost. The kernel's counters say how many were lost;
				// pages reported most of them.
				if total := lostTotal(statsPath); total > counted {
					lost := event.Event{Time: before, CPU: int32(cpu), Kind: event.KindLost, Count: total - counted, JobCount: -1, HWJobCount: -1}
					if len(evs) > 0 {
						lost.Time = max(lost.Time, evs[len(evs)-1].Time)
					}
					evs = append(evs, lost)
					l.lost.Add(total - counted)
				}
				send(1<<63 - 1)
				return
			}
			// Empty: everything committed before "before" has been read.
			if !send(before - l.delay) {
				return
			}
			// Idle: back off to Poll; busy: come back soon.
			idle++
			d := batchWait
			if idle > 5 {
				d = l.poll
			}
			if !l.sleep(d) {
				return
			}
			continue
		}
		idle = 0
		l.pages.Add(1)
		cpu32 := int32(cpu)
		info, derr := ftrace.DecodePage(l.layout, l.header, page[:n], func(ts uint64, rec []byte) {
			l.records.Add(1)
			var ev event.Event
			// A record shorter than its format still yields its event,
			// with what it holds; only unknown ids are skipped.
			if ok, _ := dec.Decode(ts, cpu, rec, &ev); !ok {
				return
			}
			if c, ok := comm[ev.PID]; ok {
				ev.Comm = c
			} else {
				c := readComm(ev.PID)
				comm[ev.PID] = c
				ev.Comm = c
			}
			evs = append(evs, ev)
		})
		if derr != nil {
			l.decErrs.Add(1)
		}
		if info.Missed {
			cnt := info.Lost
			if !info.LostKnown {
				l.lostUnknown.Add(1)
				o := stat(statsPath, "overrun")
				cnt, lastOverrun = o-lastOverrun, o
			}
			if cnt > 0 {
				counted += cnt
				l.lost.Add(cnt)
				lost := event.Event{Time: int64(info.Timestamp), CPU: cpu32, Kind: event.KindLost, Count: cnt, JobCount: -1, HWJobCount: -1}
				evs = append([]event.Event{lost}, evs...)
			}
		}
		if len(evs) > 0 {
			// Events up to the last one read are all here; later ones may follow.
			if !send(evs[len(evs)-1].Time) {
				return
			}
		}
	}
}

// batchWait is how long a busy reader lets events gather.
const batchWait = 2 * time.Millisecond

// sleep waits d, or until Stop; false when Close aborted the readers.
func (l *Source) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.abort:
		return false
	case <-l.stopping:
		return true
	case <-t.C:
		return true
	}
}

// stat reads one counter ("overrun") of a per_cpu stats file.
func stat(path, key string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return parseStat(b, key)
}

func parseStat(b []byte, key string) uint64 {
	for _, ln := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(ln, []byte(key+":")); ok {
			n, _ := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return n
		}
	}
	return 0
}

// lostTotal is every event a CPU's buffer lost since the instance was
// made: overwritten when full (the count pages report as missed), and
// dropped by the writer (commit overrun, dropped events), which no page
// reports.
func lostTotal(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return parseStat(b, "overrun") + parseStat(b, "commit overrun") + parseStat(b, "dropped events")
}

func readComm(pid int32) string {
	if pid <= 0 {
		return ""
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/comm")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

// Next returns the next event in time order. After Stop (or Close) it
// returns what the kernel still buffered, then io.EOF.
func (l *Source) Next() (event.Event, error) {
	for {
		// Take what the readers have, without blocking.
		for drained := false; !drained; {
			select {
			case b := <-l.ch:
				l.take(b)
			default:
				drained = true
			}
		}
		if ev, ok := l.pop(); ok {
			if ev.Kind != event.KindLost {
				l.events.Add(1)
			}
			return ev, nil
		}
		if p := l.readErr.Load(); p != nil {
			return event.Event{}, fmt.Errorf("reading trace_pipe_raw: %w", *p)
		}
		select {
		case b := <-l.ch:
			l.take(b)
		case <-l.done:
			// Every reader has ended: take their last batches; when
			// nothing is left, the source is over.
			select {
			case b := <-l.ch:
				l.take(b)
				continue
			default:
			}
			if l.heap.Len() == 0 {
				return event.Event{}, io.EOF
			}
			l.bound = 1<<63 - 1 // no reader can deliver anything earlier
		}
	}
}

func (l *Source) take(b batch) {
	q := &l.queues[b.cpu]
	wasEmpty := len(q.evs) == 0
	q.evs = append(q.evs, b.evs...)
	if b.safe > q.safe {
		q.safe = b.safe
	}
	if wasEmpty && len(q.evs) > 0 {
		heap.Push(&l.heap, b.cpu)
	}
	// The watermark: the earliest time any CPU can still deliver.
	w := int64(1<<63 - 1)
	for i := range l.queues {
		o := &l.queues[i]
		t := o.safe
		if len(o.evs) > 0 {
			t = o.evs[0].Time
		}
		w = min(w, t)
	}
	if w > l.watermark.Load() && w < 1<<63-1 {
		l.watermark.Store(w)
	}
}

// cpuHeap orders the CPUs with queued events by their first event's time.
type cpuHeap struct {
	cpus   []int
	queues []queue
}

func (h *cpuHeap) Len() int { return len(h.cpus) }
func (h *cpuHeap) Less(i, j int) bool {
	return h.queues[h.cpus[i]].evs[0].Time < h.queues[h.cpus[j]].evs[0].Time
}
func (h *cpuHeap) Swap(i, j int) { h.cpus[i], h.cpus[j] = h.cpus[j], h.cpus[i] }
func (h *cpuHeap) Push(x any)    { h.cpus = append(h.cpus, x.(int)) }
func (h *cpuHeap) Pop() any {
	n := len(h.cpus) - 1
	x := h.cpus[n]
	h.cpus = h.cpus[:n]
	return x
}

// pop removes the earliest queued event when no CPU can still deliver an
// earlier one: every other CPU either has a later event queued or has
// been read empty past it. The latter is each CPU's watermark: its reader,
// finding the buffer empty, vouches for everything up to CLOCK_MONOTONIC
// before that read minus Delay, and says so again every Poll while idle.
// A starved reader therefore holds the others back rather than letting
// its events come out of order.
//
// l.bound is a time no event still to come can precede (the minimum over
// CPUs of their first queued event or, for empty queues, their safe
// time). It only grows, so it is recomputed (O(CPUs)) only when the heap's
// first event passes it; releasing events below it costs O(log CPUs).
func (l *Source) pop() (event.Event, bool) {
	if l.heap.Len() == 0 {
		return event.Event{}, false
	}
	cpu := l.heap.cpus[0]
	q := &l.queues[cpu]
	bt := q.evs[0].Time
	if bt > l.bound {
		bound := bt
		for i := range l.queues {
			if o := &l.queues[i]; len(o.evs) == 0 && o.safe < bound {
				bound = o.safe
			}
		}
		if bound > l.bound {
			l.bound = bound
		}
		if bt > l.bound {
			return event.Event{}, false
		}
	}
	ev := q.evs[0]
	q.evs[0] = event.Event{}
	q.evs = q.evs[1:]
	if len(q.evs) == 0 {
		q.evs = nil
		heap.Pop(&l.heap)
	} else {
		heap.Fix(&l.heap, 0)
	}
	return ev, true
}

// drainGrace bounds how long Close waits for the consumer to take
// the events drained at stop before it counts the rest lost.
const drainGrace = 5 * time.Second

// Stop ends recording: tracing goes off in the instance and each reader
// reads its CPU's buffer until empty. Next then returns every event the
// kernel held when Stop came (or counts it lost) before io.EOF. Stop is
// idempotent and safe from any goroutine; Close calls it.
func (l *Source) Stop() {
	l.stopOnce.Do(func() {
		if l.stopping == nil {
			return
		}
		os.WriteFile(filepath.Join(l.inst, "tracing_on"), []byte("0"), 0)
		// An event reserved before tracing went off may commit a moment
		// later: the same margin the merge allows (Delay).
		time.Sleep(time.Duration(l.delay))
		close(l.stopping)
	})
}

// Close stops recording (Stop), waits until the readers have drained the
// kernel's buffers (counting lost what the consumer has not taken within
// a few seconds), disables the events and removes the instance (and
// unmounts tracefs when Open mounted it). Next keeps returning the
// drained events, then io.EOF. Close is idempotent and safe from any
// goroutine; a blocked Next returns once the buffers are drained.
func (l *Source) Close() error {
	l.closeOnce.Do(func() {
		if l.stopping != nil {
			l.Stop()
			select {
			case <-l.done:
			case <-time.After(drainGrace):
				close(l.abort)
			}
			l.wg.Wait()
		}
		l.closeErr = l.cleanup()
	})
	return l.closeErr
}

func (l *Source) cleanup() error {
	var errs []error
	for _, fd := range l.fds {
		unix.Close(fd)
	}
	l.fds = nil
	if l.inst != "" {
		os.WriteFile(filepath.Join(l.inst, "tracing_on"), []byte("0"), 0)
		for _, p := range l.enabled {
			if err := write(p, "0"); err != nil {
				errs = append(errs, err)
			}
		}
		l.enabled = nil
		var err error
		for try := 0; try < 50; try++ {
			if err = os.Remove(l.inst); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(10 * time.Millisecond) // EBUSY while a read is finishing
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("removing tracefs instance: %w", err))
		}
		l.inst = ""
		l.owner.release(err == nil)
	} else {
		l.owner.release(true)
	}
	l.owner = nil
	if l.mounted {
		if err := unix.Unmount(l.root, 0); err != nil {
			errs = append(errs, fmt.Errorf("unmounting tracefs: %w", err))
		}
		l.mounted = false
	}
	return errors.Join(errs...)
}

// filter is the instance filter of a mapped tracepoint: the values its
// mappings' Filter fields must have ("" when a mapping takes every record).
func filter(maps []ftrace.Mapping, system, ev string) string {
	var terms []string
	for _, m := range maps {
		if m.System != system || m.Event != ev {
			continue
		}
		if m.Filter == "" {
			return ""
		}
		terms = append(terms, fmt.Sprintf("%s == %d", m.Filter, m.FilterValue))
	}
	return strings.Join(terms, " || ")
}
