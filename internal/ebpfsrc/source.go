package ebpfsrc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/gpuwatch/gpuwatch/bpf"
	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/ftrace"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

var (
	// ErrUnavailable: BPF cannot be loaded or attached here (no privilege,
	// no kernel support).
	ErrUnavailable = errors.New("eBPF unavailable")
	// ErrNoEvents: the kernel has none of the scheduler tracepoints.
	ErrNoEvents = errors.New("no gpu_scheduler or gpu_sched tracepoints in tracefs: is amdgpu or another drm_sched driver loaded?")
)

// Mapping attaches the program to one existing tracepoint and says which
// scheduler Spec its records stand for. Spec's field names refer to the
// attached tracepoint's format file; the emitted events are named
// Spec.Name() and have Spec.Kind. For real scheduler tracepoints System,
// Event and Spec name the same event; tests map another tracepoint onto a
// scheduler Spec.
type Mapping struct {
	System, Event string
	Spec          tracepoint.Spec
	// Filter, when set, names an integer field of the tracepoint: only
	// records whose Filter field equals FilterValue are taken (in the kernel).
	Filter      string
	FilterValue uint64
	// TGID, when non-zero, takes only records of that process.
	TGID uint32
}

// Options configure Open.
type Options struct {
	// TracefsRoot is where format files are read ("" discovers
	// /sys/kernel/tracing or /sys/kernel/debug/tracing). Attaching always
	// goes through the kernel's tracefs.
	TracefsRoot string
	// Events to attach; nil means every tracepoint.Known event present.
	Events []Mapping
}

// Field modes, as in bpf/gpuwatch.c.
const (
	fAbsent = iota
	fInt
	fDataLoc
	fArray
	fPtr
)

// Field slots, as in bpf/gpuwatch.c.
const (
	fiRing = iota
	fiFence
	fiContext
	fiSeqno
	fiID
	fiEntity
	fiJobCount
	fiHWJobCount
	fiFilter
	fiNum
)

// pollInterval is how long Next sleeps when the ring buffer is empty: it
// bounds how long a record waits before Next sees it. At 2 ms the 4 MiB
// ring (34k records) overflows only above ~17M events/s.
const pollInterval = 2 * time.Millisecond

const (
	maxEvents = 64 // configs max_entries
	maxAlt    = 4  // MAX_ALT: mappings per tracepoint
)

// recSize is sizeof(struct rec).
const recSize = 120

// Source is the eBPF event source. Next must be called from one goroutine;
// Close, Lost and GapHistogram may be called from any.
type Source struct {
	objs   bpf.GpuwatchObjects
	loaded bool
	links  []link.Link
	rd     *ringbuf.Reader

	names    []string // by config index: Spec.Name()
	attached []string // tracepoints attached, "system:event"
	rec      ringbuf.Record
	strs     map[string]string
	nums     map[uint64]string
	last     int64
	n        uint64
	seenLost uint64
	pending  event.Event
	havePend bool
	// wm is a time no event still to come can precede (see Now).
	wm atomic.Int64

	mu     sync.Mutex
	closed bool
	// stopAt is when Stop detached the program (0: running); drained is
	// set once Next found the ring empty after it.
	stopAt  atomic.Int64
	drained bool
}

func discoverRoot(root string) (string, error) {
	if root != "" {
		return root, nil
	}
	r, err := tracefs.FindRoot()
	if errors.Is(err, fs.ErrPermission) {
		return "", fmt.Errorf("%w: %w: run as root or grant CAP_BPF and CAP_PERFMON", ErrUnavailable, err)
	}
	if err != nil {
		return "", fmt.Errorf("%w: tracefs not mounted (mount -t tracefs nodev /sys/kernel/tracing)", ErrUnavailable)
	}
	return r, nil
}

// KnownMappings returns a Mapping for every tracepoint.Known event whose
// format file exists under root/events.
func KnownMappings(root string) []Mapping {
	var ms []Mapping
	for _, s := range tracepoint.Known {
		if _, err := os.Stat(filepath.Join(root, "events", s.System, s.Event, "format")); err == nil {
			ms = append(ms, Mapping{System: s.System, Event: s.Event, Spec: s})
		}
	}
	return ms
}

// fieldCfg converts a format field to the program's field config.
func fieldCfg(ff *ftrace.Format, name string, ring bool) (bpf.GpuwatchField, error) {
	var c bpf.GpuwatchField
	fd, ok := ff.Field(name)
	if !ok {
		return c, nil // absent in this kernel's format: treated as absent
	}
	if fd.Offset < 8 || fd.Offset > 0xffff {
		return c, fmt.Errorf("field %s at offset %d: the program reads from offset 8 on", name, fd.Offset)
	}
	c.Off = uint16(fd.Offset)
	switch {
	case fd.DataLoc || fd.RelLoc:
		if !ring {
			return c, fmt.Errorf("field %s: string where an integer is expected", name)
		}
		if fd.RelLoc {
			return c, fmt.Errorf("field %s: __rel_loc is not supported", name)
		}
		c.Mode = fDataLoc
		c.Size = 4
	case fd.ArrayLen > 0:
		if !ring {
			return c, fmt.Errorf("field %s: array where an integer is expected", name)
		}
		c.Mode = fArray
		c.Size = uint8(min(fd.Size, 255))
	case ring && strings.HasSuffix(fd.Type, "*") && strings.Contains(fd.Type, "char"):
		c.Mode = fPtr
		c.Size = 8
	default:
		if fd.Size != 1 && fd.Size != 2 && fd.Size != 4 && fd.Size != 8 {
			return c, fmt.Errorf("field %s: size %d is not an integer size", name, fd.Size)
		}
		c.Mode = fInt
		c.Size = uint8(fd.Size)
		if fd.Signed {
			c.Sign = 1
		}
	}
	return c, nil
}

func buildConfig(root string, idx int, m *Mapping) (bpf.GpuwatchEvcfg, error) {
	var cfg bpf.GpuwatchEvcfg
	path := filepath.Join(root, "events", m.System, m.Event, "format")
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrPermission) {
		return cfg, fmt.Errorf("%w: reading format of %s:%s: permission denied: run as root or grant CAP_BPF and CAP_PERFMON", ErrUnavailable, m.System, m.Event)
	}
	if err != nil {
		return cfg, fmt.Errorf("reading format of %s:%s: %w", m.System, m.Event, err)
	}
	defer f.Close()
	ff, err := ftrace.ParseFormat(f)
	if err != nil {
		return cfg, fmt.Errorf("parsing %s: %w", path, err)
	}
	ff.System = m.System
	s := &m.Spec
	names := [fiNum]string{s.Ring, s.Fence, s.Context, s.Seqno, s.ID, s.Entity, s.JobCount, s.HWJobCount, m.Filter}
	for i, n := range names {
		c, err := fieldCfg(ff, n, i == fiRing)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
		cfg.F[i] = c
	}
	if m.Filter != "" && cfg.F[fiFilter].Mode != fInt {
		return cfg, fmt.Errorf("%s: filter field %q is not an integer field", path, m.Filter)
	}
	cfg.FilterVal = m.FilterValue
	cfg.Tgid = m.TGID
	cfg.Kind = uint8(s.Kind)
	// Only the scheduler's own run and done events feed the in-kernel
	// ring state: amdgpu_sched_run_job would count each job twice (and
	// under another key than the completion's fence), dma_fence events
	// are not jobs of one ring.
	if (s.Kind == event.KindRun || s.Kind == event.KindDone) && (s.System == "gpu_scheduler" || s.System == "gpu_sched") {
		cfg.Track = 1
	}
	cfg.Idx = uint8(idx)
	return cfg, nil
}

// Open loads and attaches the program. On any failure everything opened
// so far is closed.
func Open(opts Options) (_ *Source, err error) {
	root, err := discoverRoot(opts.TracefsRoot)
	if err != nil {
		return nil, err
	}
	maps := opts.Events
	if maps == nil {
		maps = KnownMappings(root)
	}
	if len(maps) == 0 {
		return nil, ErrNoEvents
	}
	if len(maps) > maxEvents {
		return nil, fmt.Errorf("%d events: at most %d", len(maps), maxEvents)
	}
	// A tracepoint takes the program once: group the mappings by
	// tracepoint, each group's configs contiguous, the first holding the
	// group size; the attach cookie is the group's first index.
	type group struct {
		system, event string
		first, n      int
	}
	var groups []group
	var order []int
	for i := range maps {
		seen := false
		for _, g := range groups {
			if g.system == maps[i].System && g.event == maps[i].Event {
				seen = true
			}
		}
		if seen {
			continue
		}
		g := group{system: maps[i].System, event: maps[i].Event, first: len(order)}
		for j := i; j < len(maps); j++ {
			if maps[j].System == g.system && maps[j].Event == g.event {
				order = append(order, j)
				g.n++
			}
		}
		if g.n > maxAlt {
			return nil, fmt.Errorf("%d mappings of %s:%s: at most %d per tracepoint", g.n, g.system, g.event, maxAlt)
		}
		groups = append(groups, g)
	}
	cfgs := make([]bpf.GpuwatchEvcfg, len(order))
	s := &Source{strs: make(map[string]string), nums: make(map[uint64]string)}
	for ci, mi := range order {
		if cfgs[ci], err = buildConfig(root, ci, &maps[mi]); err != nil {
			return nil, err
		}
		s.names = append(s.names, maps[mi].Spec.Name())
	}
	for _, g := range groups {
		cfgs[g.first].Nalt = uint8(g.n)
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	_ = rlimit.RemoveMemlock() // kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK
	if err := bpf.LoadGpuwatchObjects(&s.objs, nil); err != nil {
		return nil, unavailable("loading BPF", err)
	}
	s.loaded = true
	for i := range cfgs {
		if err := s.objs.Configs.Put(uint32(i), &cfgs[i]); err != nil {
			return nil, fmt.Errorf("configuring %s:%s: %w", maps[i].System, maps[i].Event, err)
		}
	}
	for _, g := range groups {
		l, err := link.Tracepoint(g.system, g.event, s.objs.GpuwatchTp, &link.TracepointOptions{Cookie: uint64(g.first)})
		if err != nil {
			return nil, attachError(g.system+":"+g.event, err)
		}
		s.links = append(s.links, l)
		s.attached = append(s.attached, g.system+":"+g.event)
	}
	if s.rd, err = ringbuf.NewReader(s.objs.Events); err != nil {
		return nil, fmt.Errorf("opening BPF ring buffer: %w", err)
	}
	s.rd.SetDeadline(time.Unix(0, 1)) // never block: see Next
	return s, nil
}

func attachError(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.ENOSYS) {
		return unavailable("attaching to "+what, err)
	}
	if errors.Is(err, unix.EINVAL) {
		// The event exists but is not a kernel tracepoint: uprobe- and
		// kprobe-backed events take kprobe programs, not tracepoint ones.
		return unavailable("attaching to "+what+" (is it a uprobe or kprobe event? the eBPF source needs real kernel tracepoints; use --source tracefs)", err)
	}
	return fmt.Errorf("attaching to %s: %w", what, err)
}

func unavailable(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w: %s: operation not permitted: run as root or grant CAP_BPF and CAP_PERFMON (%v)", ErrUnavailable, what, err)
	}
	if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("%w: %s: the kernel lacks a needed BPF feature: %v", ErrUnavailable, what, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
}

// Tracepoints returns the tracepoints the program is attached to, as
// "system:event".
func (s *Source) Tracepoints() []string { return append([]string(nil), s.attached...) }

// Now is the current time on the source's clock, CLOCK_MONOTONIC
// (bpf_ktime_get_ns), in nanoseconds.
//
// It is a watermark, not the raw clock: the time of the last event
// returned, or the time at which the ring buffer was last found empty
// (a record reserved later has a later timestamp: the program reads the
// clock after reserving). A consumer advancing to Now therefore never gets
// an event from its past. Safe from any goroutine.
func (s *Source) Now() int64 { return s.wm.Load() }

// monoBase and monoEpoch tie CLOCK_MONOTONIC to Go's monotonic clock
// reading (the same clock, read through the vDSO): unix.ClockGettime is a
// real system call, and Next reads the clock for every record.
var (
	monoEpoch = time.Now()
	monoBase  = func() int64 {
		var ts unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		return ts.Nano()
	}()
)

func monoNow() int64 { return monoBase + int64(time.Since(monoEpoch)) }

func (s *Source) raiseWM(t int64) {
	if t > s.wm.Load() {
		s.wm.Store(t)
	}
}

// Next returns the next event; io.EOF after Close. Events lost because
// the ring buffer was full are reported as one KindLost event, as soon as
// Next notices them (it checks the counter every 1024 records).
func (s *Source) Next() (event.Event, error) {
	if s.drained {
		return event.Event{}, io.EOF
	}
	if s.havePend {
		s.havePend = false
		return s.pending, nil
	}
	for {
		t0 := monoNow()
		if err := s.rd.ReadInto(&s.rec); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// ReadInto returns this only after finding the ring
				// empty, after t0; a record reserved later reads the
				// clock later (the program reserves first).
				// (Not AvailableBytes: it races with Close.)
				s.raiseWM(t0)
				// The ring is drained (the deadline is in the past: the
				// reader never blocks in epoll_wait, a blocked thread
				// costs the Go runtime more than timer polling). Report
				// losses now rather than 1024 records later, then sleep.
				if l := s.Lost(); l > s.seenLost {
					ev := event.Event{Time: s.last, Kind: event.KindLost, Count: l - s.seenLost, JobCount: -1, HWJobCount: -1}
					s.seenLost = l
					return ev, nil
				}
				if at := s.stopAt.Load(); at != 0 && t0 > at+int64(stopSettle) {
					// Found empty after the program was detached and
					// its last runs had ended: everything it wrote has
					// been returned, every loss reported.
					s.drained = true
					return event.Event{}, io.EOF
				}
				time.Sleep(pollInterval)
				continue
			}
			if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return event.Event{}, io.EOF
			}
			return event.Event{}, fmt.Errorf("reading BPF ring buffer: %w", err)
		}
		b := s.rec.RawSample
		if len(b) < recSize {
			continue
		}
		ev := s.decode(b)
		s.n++
		if s.n&1023 == 0 {
			if l := s.Lost(); l > s.seenLost {
				lostEv := event.Event{Time: ev.Time, Kind: event.KindLost, Count: l - s.seenLost, JobCount: -1, HWJobCount: -1}
				s.seenLost = l
				s.pending, s.havePend = ev, true
				return lostEv, nil
			}
		}
		return ev, nil
	}
}

func (s *Source) decode(b []byte) event.Event {
	le := binary.LittleEndian
	ev := event.Event{
		Time:       int64(le.Uint64(b[0:])),
		CPU:        int32(le.Uint32(b[8:])),
		PID:        int32(le.Uint32(b[12:])),
		Kind:       event.Kind(b[16]),
		Job:        event.JobKey{Fence: le.Uint64(b[24:]), Context: le.Uint64(b[32:]), Seqno: le.Uint64(b[40:])},
		ID:         le.Uint64(b[48:]),
		Entity:     le.Uint64(b[56:]),
		JobCount:   int32(le.Uint32(b[64:])),
		HWJobCount: int32(le.Uint32(b[68:])),
	}
	// bpf_ktime_get_ns is read on each CPU after reserving: records of
	// different CPUs can be a few hundred ns out of order. The model wants
	// non-decreasing time, so clamp.
	if ev.Time < s.last {
		ev.Time = s.last
	}
	if wm := s.wm.Load(); ev.Time < wm {
		ev.Time = wm
	}
	s.last = ev.Time
	s.raiseWM(ev.Time)
	if idx := int(b[17]); idx < len(s.names) {
		ev.Name = s.names[idx]
	}
	ring := b[72:104]
	if b[18] != 0 {
		v := le.Uint64(ring)
		r, ok := s.nums[v]
		if !ok {
			r = strconv.FormatUint(v, 10)
			s.nums[v] = r
		}
		ev.Ring = r
	} else {
		ev.Ring = s.intern(cstr(ring))
	}
	ev.Comm = s.intern(cstr(b[104:120]))
	return ev
}

func cstr(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

func (s *Source) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if v, ok := s.strs[string(b)]; ok {
		return v
	}
	v := string(b)
	s.strs[v] = v
	return v
}

// Lost is the number of records the program could not reserve in the
// ring buffer (it was full), since Open.
func (s *Source) Lost() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.loaded {
		return s.seenLost
	}
	var per []uint64
	if err := s.objs.Lost.Lookup(uint32(0), &per); err != nil {
		return s.seenLost
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n
}

// HistBuckets is the number of GapHistogram buckets: bucket i counts gaps
// of [2^i, 2^(i+1)) ns; the last also counts everything longer.
const HistBuckets = 48

// GapHistogram sums, over all rings, the in-kernel log2 histogram of the
// gaps between completions while work was in flight: bucket i counts gaps
// in [2^i, 2^(i+1)) ns. Each gap runs from the later of the previous
// completion and the moment work became outstanding after idle.
func (s *Source) GapHistogram() ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("gap histogram: source closed")
	}
	h := make([]uint64, HistBuckets)
	var k uint64
	var st bpf.GpuwatchRingstate
	it := s.objs.Rings.Iterate()
	for it.Next(&k, &st) {
		for i, v := range st.Hist {
			h[i] += v
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading ring state: %w", err)
	}
	return h, nil
}

// stopSettle is how long after detaching the program Next still expects
// records: a run that began before the detach may still be writing.
const stopSettle = 5 * time.Millisecond

// Stop detaches the program: no new records are written. Next then returns
// what the ring buffer holds and the losses not yet reported, then io.EOF.
// Stop is idempotent and safe from any goroutine; Close frees everything
// afterwards.
func (s *Source) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.stopAt.Load() != 0 {
		return
	}
	for _, l := range s.links {
		l.Close()
	}
	s.links = nil
	s.stopAt.Store(monoNow())
}

// Close detaches the program and frees the maps and the ring buffer; a
// blocked Next returns io.EOF. Records still in the ring are not read:
// Stop and read Next until io.EOF first for that. Close is idempotent.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.rd != nil {
		errs = append(errs, s.rd.Close())
	}
	for _, l := range s.links {
		errs = append(errs, l.Close())
	}
	s.links = nil
	if s.loaded {
		errs = append(errs, s.objs.Close())
	}
	return errors.Join(errs...)
}
