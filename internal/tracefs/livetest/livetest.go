// Package livetest fires real kernel trace events shaped like the GPU
// scheduler's, for tests of the live sources: it builds a small C program
// (testdata/gpusim.c) whose noipa functions carry the scheduler events' arguments,
// creates uprobe trace events on them in the group gpu_scheduler (or
// gpu_sched for the oldest names) with the kernel's field names, and runs
// the program in a switch-out pattern or a load loop.
//
// Uprobe event names are global: Setup holds an exclusive flock on
// /tmp/gpuwatch-uprobe.lock while the events exist and deletes them in
// t.Cleanup. Setup skips the test, saying why, where tracefs, uprobe events
// or a C compiler are missing.
package livetest

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/tracefs"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

//go:embed testdata/gpusim.c
var gpusimC []byte

// LockPath serializes tests that create uprobe events.
const LockPath = "/tmp/gpuwatch-uprobe.lock"

// gpusimGen is how the gpusim program names each generation it fires.
var gpusimGen = map[tracepoint.Generation]string{
	tracepoint.GenDRM: "drm", // gpu_scheduler:drm_sched_job/drm_run_job/drm_sched_process_job (4.16-6.16)
	tracepoint.Gen617: "617", // gpu_scheduler:drm_sched_job_queue/_run/_done (6.17+)
	tracepoint.GenAMD: "amd", // gpu_sched:amd_sched_job/amd_sched_process_job (<= 4.15)
}

// Harness holds the uprobe events of one test.
type Harness struct {
	Root string // tracefs root
	Bin  string // the gpusim program
	Gen  tracepoint.Generation
	// Events are the events created, as "system:event".
	Events []string
}

type probe struct{ group, name, fn, args string }

var probes = map[tracepoint.Generation][]probe{
	tracepoint.GenDRM: {
		{"gpu_scheduler", "drm_sched_job", "drm_sched_job", "entity=%di:u64 id=%si:u64 fence=%dx:u64 name=+0(%cx):string job_count=%r8:u32 hw_job_count=%r9:s32"},
		{"gpu_scheduler", "drm_run_job", "drm_run_job", "entity=%di:u64 id=%si:u64 fence=%dx:u64 name=+0(%cx):string job_count=%r8:u32 hw_job_count=%r9:s32"},
		{"gpu_scheduler", "drm_sched_process_job", "drm_sched_process_job", "fence=%di:u64"},
	},
	tracepoint.Gen617: {
		{"gpu_scheduler", "drm_sched_job_queue", "drm_sched_job_queue", "fence_context=%di:u64 fence_seqno=%si:u64 name=+0(%dx):string job_count=%cx:u32 hw_job_count=%r8:s32"},
		{"gpu_scheduler", "drm_sched_job_run", "drm_sched_job_run", "fence_context=%di:u64 fence_seqno=%si:u64 name=+0(%dx):string job_count=%cx:u32 hw_job_count=%r8:s32"},
		{"gpu_scheduler", "drm_sched_job_done", "drm_sched_job_done", "fence_context=%di:u64 fence_seqno=%si:u64"},
	},
	tracepoint.GenAMD: {
		{"gpu_sched", "amd_sched_job", "amd_sched_job", "entity=%di:u64 id=%si:u64 fence=%dx:u64 name=+0(%cx):string job_count=%r8:u32 hw_job_count=%r9:s32"},
		{"gpu_sched", "amd_sched_process_job", "amd_sched_process_job", "fence=%di:u64"},
	},
}

// FindRoot returns the tracefs mount point (tracefs.FindRoot) if it can
// create uprobe events, or why not.
func FindRoot() (string, error) {
	root, err := tracefs.FindRoot()
	if err == nil {
		if _, err = os.Stat(filepath.Join(root, "uprobe_events")); err == nil {
			return root, nil
		}
	}
	if os.Geteuid() != 0 {
		return "", errors.New("not root: tracefs and uprobe events need root")
	}
	if root != "" {
		return "", fmt.Errorf("no uprobe_events in %s (a kernel without CONFIG_UPROBE_EVENTS)", root)
	}
	return "", err
}

// LockTimeout bounds how long Lock and LockFile wait for the uprobe lock.
// Live tests of other packages (or other checkouts) hold it for seconds
// each; a holder that keeps it longer is stuck.
var LockTimeout = 5 * time.Minute

// Lock takes the uprobe lock for the rest of the test. It says who holds
// the lock while it waits, and fails the test after LockTimeout.
func Lock(t testing.TB) {
	t.Helper()
	unlock, err := lockFile(LockTimeout, func(holder string) { t.Logf("waiting for %s, held by %s", LockPath, holder) }, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
}

// lockFile takes the uprobe lock, polling, for at most timeout; it calls
// waiting once, after a few seconds, with what the holder wrote into the
// file; the holder's note is replaced by who.
func lockFile(timeout time.Duration, waiting func(holder string), who string) (unlock func(), err error) {
	f, err := os.OpenFile(LockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", LockPath, err)
	}
	start := time.Now()
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", LockPath, err)
		}
		waited := time.Since(start)
		if waited > timeout {
			holder := lockHolder()
			f.Close()
			return nil, fmt.Errorf("the live-test lock %s is still held after %v by %s: a stuck test run? (LockTimeout)", LockPath, timeout, holder)
		}
		if !said && waited > 5*time.Second && waiting != nil {
			waiting(lockHolder())
			said = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("pid %d: %s\n", os.Getpid(), who)), 0)
	return func() {
		f.Truncate(0)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// lockHolder is what the lock's holder wrote into it.
func lockHolder() string {
	b, _ := os.ReadFile(LockPath)
	if s := strings.TrimSpace(string(b)); s != "" {
		return s
	}
	return "an unknown process"
}

// Build compiles gpusim into dir.
func Build(t testing.TB, dir string) string {
	t.Helper()
	bin, err := BuildProgram(dir)
	if errors.Is(err, errNoCC) {
		Skip(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var errNoCC = errors.New("no C compiler (cc, gcc) to build the event-firing program")

// BuildProgram compiles gpusim into dir and returns its path.
func BuildProgram(dir string) (string, error) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		if cc, err = exec.LookPath("gcc"); err != nil {
			return "", errNoCC
		}
	}
	src := filepath.Join(dir, "gpusim.c")
	bin := filepath.Join(dir, "gpusim")
	if err := os.WriteFile(src, gpusimC, 0o644); err != nil {
		return "", err
	}
	if out, err := exec.Command(cc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building gpusim: %v\n%s", err, out)
	}
	return bin, nil
}

// fileOffset is the file offset of symbol sym in the ELF file bin.
func fileOffset(bin, sym string) (uint64, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return 0, err
	}
	for _, s := range syms {
		if s.Name != sym || elf.ST_TYPE(s.Info) != elf.STT_FUNC {
			continue
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && s.Value >= p.Vaddr && s.Value < p.Vaddr+p.Filesz {
				return s.Value - p.Vaddr + p.Off, nil
			}
		}
		return 0, fmt.Errorf("symbol %s at %#x is in no executable segment", sym, s.Value)
	}
	return 0, fmt.Errorf("no function %s in %s", sym, bin)
}

func appendUprobe(root, line string) error {
	f, err := os.OpenFile(filepath.Join(root, "uprobe_events"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Setup builds gpusim and creates the uprobe events of gen, holding the
// uprobe lock until the test's cleanup deletes them. Cleanups registered
// after Setup (closing a live source) run before the events are deleted.
func Setup(t testing.TB, gen tracepoint.Generation) *Harness {
	t.Helper()
	root, err := FindRoot()
	if err != nil {
		Skip(t, "%v", err)
	}
	Lock(t)
	removeStale(t, root)
	h, err := Create(root, Build(t, t.TempDir()), gen)
	if errors.Is(err, ErrNoUprobes) || errors.Is(err, ErrRealScheduler) {
		Skip(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Remove(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// ErrNoUprobes: the kernel refuses uprobe events.
var ErrNoUprobes = errors.New("cannot create uprobe events: the kernel lacks CONFIG_UPROBE_EVENTS?")

// ErrRealScheduler: the machine has real GPU scheduler tracepoints of the
// names the harness would create; tests that need the harness cannot run.
var ErrRealScheduler = errors.New("this kernel has real GPU scheduler tracepoints")

// Create creates the uprobe events of gen on the program bin. The caller
// holds the uprobe lock (LockFile) and calls Remove.
func Create(root, bin string, gen tracepoint.Generation) (*Harness, error) {
	h := &Harness{Root: root, Gen: gen, Bin: bin}
	ups, _ := os.ReadFile(filepath.Join(root, "uprobe_events"))
	// Any kernel tracepoint of the scheduler groups (a drm_sched driver
	// is loaded) rules the harness out: its names may be taken, and the
	// sources under test would read the real GPU's events besides the
	// program's.
	for _, group := range []string{"gpu_scheduler", "gpu_sched"} {
		ents, _ := os.ReadDir(filepath.Join(root, "events", group))
		for _, e := range ents {
			if e.IsDir() && !uprobeDefined(string(ups), group, e.Name()) {
				return nil, fmt.Errorf("%w (%s:%s): the live tests fire uprobe events of the scheduler's names and cannot run here", ErrRealScheduler, group, e.Name())
			}
		}
	}
	for _, p := range probes[gen] {
		if _, err := os.Stat(filepath.Join(root, "events", p.group, p.name)); err == nil {
			return nil, fmt.Errorf("uprobe event %s:%s already exists: a test that did not clean up, whose program still exists", p.group, p.name)
		}
	}
	for _, p := range probes[gen] {
		off, err := fileOffset(h.Bin, p.fn)
		if err != nil {
			h.Remove()
			return nil, err
		}
		line := fmt.Sprintf("p:%s/%s %s:%#x %s", p.group, p.name, h.Bin, off, p.args)
		if err := appendUprobe(root, line); err != nil {
			first := len(h.Events) == 0
			h.Remove()
			if first {
				return nil, fmt.Errorf("%w (%v)", ErrNoUprobes, err)
			}
			return nil, fmt.Errorf("creating uprobe event %q: %w", line, err)
		}
		h.Events = append(h.Events, p.group+":"+p.name)
	}
	return h, nil
}

// Remove deletes the events. An event cannot go while an instance has it
// enabled: close the source under test first (Remove retries for 2 s).
func (h *Harness) Remove() error {
	var errs []error
	for _, name := range h.Events {
		var err error
		for try := 0; try < 100; try++ {
			if err = appendUprobe(h.Root, "-:"+strings.Replace(name, ":", "/", 1)); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("deleting uprobe event %s: %w", name, err))
		}
	}
	h.Events = nil
	return errors.Join(errs...)
}

// LockFile takes the uprobe lock (waiting at most LockTimeout); unlock
// releases it.
func LockFile() (unlock func(), err error) {
	return lockFile(LockTimeout, nil, strings.Join(os.Args, " "))
}

// Pattern is the ground truth of a switch-out pattern run.
type Pattern struct {
	Start        int64 // CLOCK_MONOTONIC ns of the first switch-in
	On, Off, Job time.Duration
	Jobs         uint64 // completions fired
	Duration     time.Duration
	InFlight     int
	EventsPerJob int
	// Gaps are the stretches between consecutive completions longer than
	// two jobs, as the program fired them (CLOCK_MONOTONIC ns, taken just
	// before each completion's call): the windows a reader must find.
	Gaps [][2]int64
}

// Clean reports whether the fired gaps are the nominal off phases: one
// per period, none elsewhere (the program was not held up).
func (p *Pattern) Clean() bool {
	for _, g := range p.Gaps {
		d := time.Duration(g[1] - g[0])
		if d < p.Off || d > p.Off+2*p.Job+200*time.Microsecond {
			return false
		}
	}
	n := int((p.Duration - p.On) / p.Period())
	return len(p.Gaps) >= n-1 && len(p.Gaps) <= n+1
}

// Share is On/(On+Off).
func (p *Pattern) Share() float64 { return float64(p.On) / float64(p.On+p.Off) }

// Period is On+Off.
func (p *Pattern) Period() time.Duration { return p.On + p.Off }

func (h *Harness) eventsPerJob() int {
	if h.Gen == tracepoint.GenAMD {
		return 2
	}
	return 3
}

// RunPattern fires the switch-out pattern for d and returns its truth.
func (h *Harness) RunPattern(ctx context.Context, d, on, off, job time.Duration, inflight int) (*Pattern, error) {
	out, err := exec.CommandContext(ctx, h.Bin, "pattern", gpusimGen[h.Gen], ms(d), us(on), us(off), us(job), strconv.Itoa(inflight)).Output()
	if err != nil {
		return nil, fmt.Errorf("running gpusim: %w", err)
	}
	kv := parseKV(out)
	p := &Pattern{On: on, Off: off, Job: job, Duration: d, InFlight: inflight, EventsPerJob: h.eventsPerJob()}
	p.Start, _ = strconv.ParseInt(kv["start"], 10, 64)
	p.Jobs, _ = strconv.ParseUint(kv["jobs"], 10, 64)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var a, b int64
		if n, _ := fmt.Sscanf(sc.Text(), "gap %d %d", &a, &b); n == 2 {
			p.Gaps = append(p.Gaps, [2]int64{a, b})
		}
	}
	if p.Start == 0 {
		return nil, fmt.Errorf("gpusim printed no start: %q", out)
	}
	return p, nil
}

// Fired is the number of events a pattern run fired.
func (p *Pattern) Fired() uint64 {
	return uint64(p.EventsPerJob-1)*(p.Jobs+uint64(p.InFlight)) + p.Jobs
}

// RunLoad fires events at rate per second (0: as fast as it can) for d and
// returns how many it fired.
func (h *Harness) RunLoad(ctx context.Context, d time.Duration, rate int) (uint64, error) {
	out, err := exec.CommandContext(ctx, h.Bin, "load", gpusimGen[h.Gen], ms(d), strconv.Itoa(rate)).Output()
	if err != nil {
		return 0, fmt.Errorf("running gpusim: %w", err)
	}
	return strconv.ParseUint(parseKV(out)["fired"], 10, 64)
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
func us(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }

func parseKV(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		m[k] = v
	}
	return m
}

// State is what tracefs looks like to gpuwatch's cleanup tests.
type State struct {
	Instances    string
	UprobeEvents string
	Enabled      string // top-level set_event
}

// Snapshot reads the state.
func Snapshot(root string) State {
	var s State
	ents, _ := os.ReadDir(filepath.Join(root, "instances"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	s.Instances = strings.Join(names, " ")
	b, _ := os.ReadFile(filepath.Join(root, "uprobe_events"))
	s.UprobeEvents = string(b)
	b, _ = os.ReadFile(filepath.Join(root, "set_event"))
	s.Enabled = string(b)
	return s
}

// abandoned reports whether the gpuwatch instance name's owner is proven
// dead: its lock file under /run/gpuwatch (tracefs.LockDir) can be
// locked.
func abandoned(name string) bool {
	if !strings.HasPrefix(name, "gpuwatch-") {
		return false
	}
	f, err := os.OpenFile(filepath.Join("/run/gpuwatch", name+".lock"), os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

// uprobeDefined reports whether the uprobe_events text defines group/name.
func uprobeDefined(uprobeEvents, group, name string) bool {
	for _, line := range strings.Split(uprobeEvents, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && len(f[0]) > 2 && f[0][1] == ':' && f[0][2:] == group+"/"+name {
			return true
		}
	}
	return false
}

// removeStale deletes uprobe events of the scheduler groups left by a test
// that was killed before its cleanup (their program is gone): with the
// lock held, no running test owns them. Each is first disabled wherever it
// is enabled (a killed live source leaves its instance behind), and empty
// instances of dead gpuwatch processes are removed.
func removeStale(t testing.TB, root string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "uprobe_events"))
	if err != nil {
		return
	}
	insts, _ := filepath.Glob(filepath.Join(root, "instances", "*"))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[0], "p:") {
			continue
		}
		ev := strings.TrimPrefix(f[0], "p:")
		group, name, _ := strings.Cut(ev, "/")
		if group != "gpu_scheduler" && group != "gpu_sched" {
			continue
		}
		bin, _, _ := strings.Cut(f[1], ":")
		if _, err := os.Stat(bin); err == nil {
			continue // its program exists: not ours to judge
		}
		for _, dir := range append([]string{root}, insts...) {
			os.WriteFile(filepath.Join(dir, "events", group, name, "enable"), []byte("0"), 0)
		}
		for _, dir := range insts {
			if abandoned(filepath.Base(dir)) {
				os.Remove(dir)
			}
		}
		if err := appendUprobe(root, "-:"+group+"/"+name); err != nil {
			t.Logf("removing stale uprobe event %s: %v", ev, err)
		} else {
			t.Logf("removed stale uprobe event %s (its program %s is gone)", ev, bin)
		}
	}
}
