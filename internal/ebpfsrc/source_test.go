package ebpfsrc

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gpuwatch/gpuwatch/bpf"
	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// The kernel here has no GPU scheduler tracepoints, so the tests map the
// real tracepoint syscalls:sys_enter_ioctl (fields fd, cmd, arg; read from
// its real format file) onto scheduler Specs: an ioctl with cmd cmdRun is
// a drm_run_job, one with cmdDone a drm_sched_process_job; arg is the
// fence and fd the ring. The program filters on cmd and on the test's
// tgid in the kernel; loading, configuration, attaching, the ring buffer,
// the in-kernel ring state and the decoding are those of real events.
// The cmd values carry the test process's pid, so that test binaries
// running at once (go test runs packages in parallel) never read each
// other's events, whatever filters a source applies.
var (
	cmdRun  = uint64(0x6701)<<16 | uint64(os.Getpid()&0xffff)
	cmdDone = uint64(0x6702)<<16 | uint64(os.Getpid()&0xffff)
)

const badFD = 999999 // EBADF: the ioctl does nothing but fire the tracepoint

func ioctlMappings(tgid uint32) []Mapping {
	return []Mapping{
		{System: "syscalls", Event: "sys_enter_ioctl", Filter: "cmd", FilterValue: cmdRun, TGID: tgid,
			Spec: tracepoint.Spec{System: "gpu_scheduler", Event: "drm_run_job", Kind: event.KindRun, Ring: "fd", Fence: "arg"}},
		{System: "syscalls", Event: "sys_enter_ioctl", Filter: "cmd", FilterValue: cmdDone, TGID: tgid,
			Spec: tracepoint.Spec{System: "gpu_scheduler", Event: "drm_sched_process_job", Kind: event.KindDone, Fence: "arg"}},
	}
}

func tracefsRoot(t testing.TB) string {
	if r, err := tracefs.FindRoot(); err == nil {
		if _, err := os.Stat(r + "/events/syscalls/sys_enter_ioctl/format"); err == nil {
			return r
		}
	}
	livetest.Skip(t, "tracefs with syscalls/sys_enter_ioctl not available (mount tracefs; kernel needs CONFIG_FTRACE_SYSCALLS)")
	return ""
}

func openIoctl(t testing.TB) *Source {
	t.Helper()
	if os.Geteuid() != 0 {
		livetest.Skip(t, "loading BPF needs root")
	}
	root := tracefsRoot(t)
	s, err := Open(Options{TracefsRoot: root, Events: ioctlMappings(uint32(os.Getpid()))})
	if errors.Is(err, ErrUnavailable) {
		livetest.Skip(t, "eBPF unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mono() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

type fired struct {
	kind      event.Kind
	fence     uint64
	pre, post int64
}

func fire(cmd, fence uint64) {
	unix.Syscall(unix.SYS_IOCTL, badFD, uintptr(cmd), uintptr(fence))
}

// spinUntil busy-waits: sleeping would put the Go runtime's own syscalls
// and timer slack into the pattern.
func spinUntil(t int64) {
	for mono() < t {
	}
}

// firePattern plays a time-sliced GPU: during each on-window of slice ns a
// job completes every job ns and a new one is pushed (two in flight);
// then nothing completes for off ns while two jobs stay in flight.
//
// It also returns how late the latest tick fired: on a loaded machine the
// firing thread is preempted and the pattern fired is not the one planned.
func firePattern(slice, off, job, total int64) ([]fired, int64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var out []fired
	var fence uint64 = 0x1000
	var inflight []uint64
	var late int64
	do := func(k event.Kind, f uint64) {
		cmd := uint64(cmdRun)
		if k == event.KindDone {
			cmd = cmdDone
		}
		pre := mono()
		fire(cmd, f)
		out = append(out, fired{k, f, pre, mono()})
	}
	push := func() {
		fence += 0x40
		inflight = append(inflight, fence)
		do(event.KindRun, fence)
	}
	start := mono()
	push()
	push()
	for on := start; on < start+total; on += slice + off {
		for tick := on + job; tick <= on+slice; tick += job {
			spinUntil(tick)
			late = max(late, mono()-tick)
			do(event.KindDone, inflight[0])
			inflight = inflight[1:]
			push()
		}
	}
	spinUntil(mono() + job)
	for _, f := range inflight {
		do(event.KindDone, f)
	}
	return out, late
}

func TestRecordLayout(t *testing.T) {
	if n := unsafe.Sizeof(bpf.GpuwatchRec{}); n != recSize {
		t.Fatalf("sizeof(struct rec) = %d, decoder assumes %d", n, recSize)
	}
}

func TestIoctlPattern(t *testing.T) {
	s := openIoctl(t)
	defer s.Close()

	const (
		slice = 6 * time.Millisecond
		off   = 6400 * time.Microsecond
		job   = 250 * time.Microsecond
	)
	// Retry a pattern the scheduler disturbed; the checks below hold for
	// whatever was fired, the schedule check needs a clean one.
	var want []fired
	var late int64
	for try := 0; try < 3; try++ {
		if try > 0 {
			// Drain the disturbed attempt's events.
			s.Close()
			s = openIoctl(t)
			defer s.Close()
		}
		want, late = firePattern(int64(slice), int64(off), int64(job), int64(500*time.Millisecond))
		if late < int64(time.Millisecond) {
			break
		}
		t.Logf("attempt %d: the firing thread ran up to %v late", try+1, time.Duration(late))
	}

	got := make([]event.Event, 0, len(want))
	done := make(chan error, 1)
	go func() {
		for len(got) < len(want) {
			ev, err := s.Next()
			if err != nil {
				done <- err
				return
			}
			got = append(got, ev)
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(got), len(want), err)
		}
	case <-time.After(5 * time.Second):
		s.Close()
		<-done
		t.Fatalf("got %d of %d events", len(got), len(want))
	}
	if l := s.Lost(); l != 0 {
		t.Errorf("lost %d events", l)
	}
	ring := "999999"
	for i, w := range want {
		g := got[i]
		if g.Kind != w.kind || g.Job.Fence != w.fence {
			t.Fatalf("event %d: got %v fence %#x, fired %v fence %#x", i, g.Kind, g.Job.Fence, w.kind, w.fence)
		}
		if g.Time < w.pre || g.Time > w.post {
			t.Fatalf("event %d: time %d outside the syscall [%d, %d]", i, g.Time, w.pre, w.post)
		}
		if g.PID != int32(unix.Gettid()) && g.PID <= 0 {
			t.Fatalf("event %d: pid %d", i, g.PID)
		}
		wantName, wantRing := "gpu_scheduler:drm_run_job", ring
		if w.kind == event.KindDone {
			wantName, wantRing = "gpu_scheduler:drm_sched_process_job", ""
		}
		if g.Name != wantName || g.Ring != wantRing || g.Comm == "" || g.JobCount != -1 {
			t.Fatalf("event %d: %+v", i, g)
		}
	}

	// The in-kernel histogram: completion gaps while two jobs are in
	// flight, measured against what was fired.
	h, err := s.GapHistogram()
	if err != nil {
		t.Fatal(err)
	}
	// histOf is the program's gap histogram computed in Go from times.
	histOf := func(at func(i int) int64) []uint64 {
		hist := make([]uint64, HistBuckets)
		var last, busy int64
		n := 0
		for i, w := range want {
			switch w.kind {
			case event.KindRun:
				if n == 0 {
					busy = at(i)
				}
				n++
			case event.KindDone:
				if from := max(last, busy); from != 0 {
					hist[bucket(at(i)-from)]++
				}
				last = at(i)
				n--
				if n == 0 {
					busy = 0
				}
			}
		}
		return hist
	}
	// Exactly what the records' timestamps imply: checks the in-kernel
	// per-ring state (in flight, fence → ring, gaps).
	fromRecs := histOf(func(i int) int64 { return got[i].Time })
	// Approximately what the test fired (a syscall entry can be delayed).
	fired := histOf(func(i int) int64 { return want[i].pre })
	t.Logf("gap histogram, kernel:      %v", h[15:25])
	t.Logf("gap histogram, from records: %v", fromRecs[15:25])
	t.Logf("gap histogram, fired:        %v", fired[15:25])
	for i := range h {
		if h[i] != fromRecs[i] {
			t.Errorf("gap histogram bucket %d (%v): kernel %d, records imply %d", i, time.Duration(1)<<i, h[i], fromRecs[i])
		}
	}
	var offGot, offFired uint64
	for i := range h {
		if d := time.Duration(1) << i; d >= 4*time.Millisecond && d < 8*time.Millisecond {
			offGot += h[i]
			offFired += fired[i]
		}
	}
	// The fired times are taken before each syscall: when a syscall took
	// long (the thread preempted around it), what was fired is uncertain
	// by as much, and a gap or a borderline detection may go either way.
	var slow int64
	for _, w := range want {
		slow = max(slow, w.post-w.pre)
	}
	if slow <= int64(200*time.Microsecond) && (offGot+2 < offFired || offGot > offFired+2) {
		t.Errorf("4–8 ms bucket: %d gaps, fired %d (switch-outs)", offGot, offFired)
	}

	// The engine finds in the decoded events the schedule it finds in the
	// events as fired (ground truth: the kinds, fences and times the test
	// fired), and, when the firing thread kept time, the planned one.
	timeslice := func(evs func(yield func(event.Event))) gaps.Timeslice {
		e := gaps.New(gaps.Config{})
		evs(e.Feed)
		return e.FinalSnapshot().Timeslice
	}
	ts := timeslice(func(feed func(event.Event)) {
		for _, ev := range got {
			feed(ev)
		}
	})
	truth := timeslice(func(feed func(event.Event)) {
		for i, w := range want {
			ev := got[i] // same names, ring, pid, comm
			ev.Time = w.pre
			feed(ev)
		}
	})
	t.Logf("timeslice decoded: %+v", ts)
	t.Logf("timeslice fired:   %+v", truth)
	if slow > int64(200*time.Microsecond) {
		t.Logf("a syscall took %v (the machine is busy): the fired times are too uncertain to compare schedules", time.Duration(slow))
		return
	}
	if ts.Detected != truth.Detected {
		t.Fatalf("decoded events: detected=%v (%s); fired events: detected=%v (%s)", ts.Detected, ts.Reason, truth.Detected, truth.Reason)
	}
	if ts.Detected {
		if d := ts.Period - truth.Period; d < -50*time.Microsecond || d > 50*time.Microsecond {
			t.Errorf("period %v, %v in the fired events", ts.Period, truth.Period)
		}
		if d := ts.Slice - truth.Slice; d < -100*time.Microsecond || d > 100*time.Microsecond {
			t.Errorf("slice %v, %v in the fired events", ts.Slice, truth.Slice)
		}
	}
	if late >= int64(time.Millisecond) {
		t.Logf("the machine disturbed every attempt (up to %v late): not checking the planned schedule", time.Duration(late))
		return
	}
	// An undisturbed 500 ms pattern holds ~40 switch-outs of 6.4 ms.
	if offFired < 30 {
		t.Errorf("4–8 ms bucket: %d gaps fired by an undisturbed pattern, want >= 30", offFired)
	}
	if !ts.Detected {
		t.Fatalf("engine detected no timeslice: %s", ts.Reason)
	}
	if d := ts.Period - (slice + off); d < -300*time.Microsecond || d > 300*time.Microsecond {
		t.Errorf("period %v, fired %v", ts.Period, slice+off)
	}
	if d := ts.Slice - slice; d < -500*time.Microsecond || d > 500*time.Microsecond {
		t.Errorf("slice %v, fired %v", ts.Slice, slice)
	}
}

func bucket(d int64) int {
	b := 0
	for d >= 2 && b < HistBuckets-1 {
		d >>= 1
		b++
	}
	return b
}

func countFDs(t *testing.T) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		livetest.Skip(t, "no /proc/self/fd: %v", err)
	}
	return len(es)
}

// linkIDs lists the BPF links this process holds, from /proc/self/fdinfo
// ("link_id:" lines).
func linkIDs() map[string]bool {
	ids := map[string]bool{}
	es, _ := os.ReadDir("/proc/self/fdinfo")
	for _, e := range es {
		b, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if id, ok := strings.CutPrefix(l, "link_id:"); ok {
				ids[strings.TrimSpace(id)] = true
			}
		}
	}
	return ids
}

func TestCloseLeavesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		livetest.Skip(t, "loading BPF needs root")
	}
	tracefsRoot(t)
	before := countFDs(t)
	linksBefore := linkIDs()
	s := openIoctl(t)
	var added int
	for id := range linkIDs() {
		if !linksBefore[id] {
			added++
		}
	}
	if added != 1 { // both mappings share sys_enter_ioctl
		t.Errorf("Open created %d BPF links, want 1", added)
	}
	fire(cmdRun, 1)
	ev, err := s.Next()
	if err != nil || ev.Job.Fence != 1 {
		t.Fatalf("Next = %v, %v", ev, err)
	}
	// A Next waiting for events returns io.EOF when Close is called.
	eof := make(chan error, 1)
	go func() {
		_, err := s.Next()
		eof <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-eof:
		if err != io.EOF {
			t.Fatalf("waiting Next after Close = %v, want io.EOF", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end a waiting Next")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Fatalf("Next after Close = %v, want io.EOF", err)
	}
	if after := countFDs(t); after != before {
		t.Errorf("%d fds before Open, %d after Close", before, after)
	}
	for id := range linkIDs() {
		if !linksBefore[id] {
			t.Errorf("BPF link %s left after Close", id)
		}
	}
}

func TestOpenFailureClosesAll(t *testing.T) {
	if os.Geteuid() != 0 {
		livetest.Skip(t, "loading BPF needs root")
	}
	real := tracefsRoot(t)
	// A tracefs root whose format files parse, one of them for a
	// tracepoint the kernel lacks: Open loads the program, attaches to
	// sys_enter_ioctl, then fails attaching to the missing one.
	format, err := os.ReadFile(real + "/events/syscalls/sys_enter_ioctl/format")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, ev := range []string{"sys_enter_ioctl", "gpuwatch_no_such_event"} {
		dir := root + "/events/syscalls/" + ev
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/format", format, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := countFDs(t)
	linksBefore := linkIDs()
	ms := ioctlMappings(uint32(os.Getpid()))
	ms = append(ms, Mapping{System: "syscalls", Event: "gpuwatch_no_such_event", Spec: ms[0].Spec})
	_, err = Open(Options{TracefsRoot: root, Events: ms})
	if err == nil {
		t.Fatal("Open succeeded on a missing tracepoint")
	}
	if errors.Is(err, ErrUnavailable) {
		livetest.Skip(t, "eBPF unavailable: %v", err)
	}
	t.Logf("Open: %v", err)
	if after := countFDs(t); after != before {
		t.Errorf("%d fds before the failed Open, %d after", before, after)
	}
	for id := range linkIDs() {
		if !linksBefore[id] {
			t.Errorf("BPF link %s left after the failed Open", id)
		}
	}
}

func TestNoEvents(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(dir+"/events/sched", 0o755)
	_, err := Open(Options{TracefsRoot: dir})
	if !errors.Is(err, ErrNoEvents) {
		t.Fatalf("Open on a tracefs without scheduler events: %v, want ErrNoEvents", err)
	}
}

// TestExecDataLoc exercises a __data_loc string field on a real
// tracepoint: sched:sched_process_exec's filename stands in for the ring
// name and its pid for the fence.
func TestExecDataLoc(t *testing.T) {
	if os.Geteuid() != 0 {
		livetest.Skip(t, "loading BPF needs root")
	}
	root := tracefsRoot(t)
	if _, err := os.Stat(root + "/events/sched/sched_process_exec/format"); err != nil {
		livetest.Skip(t, "no sched:sched_process_exec tracepoint")
	}
	bin, err := exec.LookPath("true")
	if err != nil {
		livetest.Skip(t, "no true(1)")
	}
	s, err := Open(Options{TracefsRoot: root, Events: []Mapping{{System: "sched", Event: "sched_process_exec",
		Spec: tracepoint.Spec{System: "gpu_scheduler", Event: "drm_sched_job", Kind: event.KindQueue, Ring: "filename", Fence: "pid", ID: "old_pid"}}}})
	if errors.Is(err, ErrUnavailable) {
		livetest.Skip(t, "eBPF unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.Command(bin)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := uint64(cmd.Process.Pid)
	found := make(chan event.Event, 1)
	go func() {
		for {
			ev, err := s.Next()
			if err != nil {
				close(found)
				return
			}
			if ev.Job.Fence == pid {
				found <- ev
				return
			}
		}
	}()
	select {
	case ev, ok := <-found:
		if !ok {
			t.Fatal("source ended before the exec event")
		}
		if ev.Ring != bin || ev.Kind != event.KindQueue || ev.Name != "gpu_scheduler:drm_sched_job" || ev.ID != pid {
			t.Errorf("exec event %+v: want ring %q, id %d", ev, bin, pid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exec event within 5 s")
	}
}

// fireRuns fires n run events with fences 1..n from one thread.
func fireRuns(n int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < n; i++ {
		fire(cmdRun, uint64(i+1))
	}
}

// TestLost overfills the ring buffer before reading: the program counts
// what it could not reserve and Next reports it as a KindLost event.
func TestLost(t *testing.T) {
	s := openIoctl(t)
	defer s.Close()
	const n = 50000 // the 4 MiB ring holds about 32k records
	fireRuns(n)
	var read, lost uint64
	deadline := time.Now().Add(10 * time.Second)
	for read+lost < n && time.Now().Before(deadline) {
		ev, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == event.KindLost {
			lost += ev.Count
			continue
		}
		if want := read + 1; ev.Job.Fence != want {
			t.Fatalf("record %d has fence %d, want %d (the ring keeps the oldest)", read, ev.Job.Fence, want)
		}
		read++
	}
	t.Logf("read %d, lost %d of %d", read, lost, n)
	if lost == 0 || read+lost != n || s.Lost() != lost {
		t.Fatalf("read %d + lost %d (Lost() = %d), fired %d", read, lost, s.Lost(), n)
	}
}

// TestUnprivileged re-runs this test binary without capabilities (root's
// bounding set emptied by setpriv): Open must fail with ErrUnavailable
// and say how to fix it.
func TestUnprivileged(t *testing.T) {
	if os.Getenv("GPUWATCH_EBPF_UNPRIV") == "1" {
		_, err := Open(Options{Events: ioctlMappings(uint32(os.Getpid()))})
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "run as root or grant CAP_BPF and CAP_PERFMON") {
			t.Fatalf("Open without capabilities: %v", err)
		}
		return
	}
	if os.Geteuid() != 0 {
		livetest.Skip(t, "needs root to drop capabilities from")
	}
	tracefsRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		livetest.Skip(t, "setpriv (util-linux) not installed")
	}
	cmd := exec.Command(setpriv, "--bounding-set=-all", "--inh-caps=-all", os.Args[0], "-test.run=^TestUnprivileged$", "-test.v")
	cmd.Env = append(os.Environ(), "GPUWATCH_EBPF_UNPRIV=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestUnprivileged") {
		t.Fatalf("unprivileged run did not pass:\n%s", out)
	}
}

// TestNowWatermark: Now never runs ahead of an event still to come, and
// advances while the ring is empty (Next polling it).
func TestNowWatermark(t *testing.T) {
	s := openIoctl(t)
	defer s.Close()
	ch := make(chan event.Event, 16)
	go func() {
		defer close(ch)
		for {
			ev, err := s.Next()
			if err != nil {
				return
			}
			ch <- ev
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := uint64(1); i <= 200; i++ {
		w := s.Now()
		fire(cmdRun, i)
		ev := <-ch
		if ev.Job.Fence != i || ev.Time < w {
			t.Fatalf("event %d (fence %#x) at %d, Now() was %d before firing it", i, ev.Job.Fence, ev.Time, w)
		}
		if i%50 == 0 {
			time.Sleep(3 * pollInterval)
		}
	}
	idle := mono()
	time.Sleep(5 * pollInterval)
	if w := s.Now(); w < idle {
		t.Errorf("Now() = %d after %v idle, did not pass %d", w, 5*pollInterval, idle)
	}
	if w := s.Now(); w > mono() {
		t.Errorf("Now() = %d is in the future", w)
	}
}

// TestStopDrains fires more records than the ring holds and stops at once,
// before reading: Next returns every record still held and reports every
// one the program could not write, then io.EOF.
func TestStopDrains(t *testing.T) {
	s := openIoctl(t)
	defer s.Close()
	const n = 50000 // the 4 MiB ring holds about 32k records
	fireRuns(n)
	s.Stop()
	var read, lost uint64
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == event.KindLost {
			lost += ev.Count
		} else {
			read++
		}
	}
	t.Logf("read %d, lost %d of %d", read, lost, n)
	if read+lost != n || lost == 0 {
		t.Fatalf("read %d + lost %d = %d, fired %d", read, lost, read+lost, n)
	}
}
