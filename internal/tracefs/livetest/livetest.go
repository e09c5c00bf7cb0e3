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
)

//go:embed testdata/gpusim.c
var gpusimC []byte

// LockPath serializes tests that create uprobe events.
const LockPath = "/tmp/gpuwatch-uprobe.lock"

// Gen names a tracepoint generation.
type Gen string

const (
	GenDRM Gen = "drm" // gpu_scheduler:drm_sched_job/drm_run_job/drm_sched_process_job (4.16-6.16)
	Gen617 Gen = "617" // gpu_scheduler:drm_sched_job_queue/_run/_done (6.17+)
	GenAMD Gen = "amd" // gpu_sched:amd_sched_job/amd_sched_process_job (<= 4.15)
)

// Harness holds the uprobe events of one test.
type Harness struct {
	Root string // tracefs root
	Bin  string // the gpusim program
	Gen  Gen
	// Events are the events created, as "system:event".
	Events []string
}

type probe struct{ group, name, fn, args string }

var probes = map[Gen][]probe{
	GenDRM: {
		{"gpu_scheduler", "drm_sched_job", "drm_sched_job", "entity=%di:u64 id=%si:u64 fence=%dx:u64 name=+0(%cx):string job_count=%r8:u32 hw_job_count=%r9:s32"},
		{"gpu_scheduler", "drm_run_job", "drm_run_job", "entity=%di:u64 id=%si:u64 fence=%dx:u64 name=+0(%cx):string job_count=%r8:u32 hw_job_count=%r9:s32"},
		{"gpu_scheduler", "drm_sched_process_job", "drm_sched_process_job", "fence=%di:u64"},
	},
	Gen617: {
		{"gpu_scheduler", "drm_sched_job_queue", "drm_sched_job_queue", "fence_context=%di:u64 fence_seqno=%si:u64 name=+0(%dx):string job_count=%cx:u32 hw_job_count=%r8:s32"},
		{"gpu_scheduler", "drm_sched_job_run", "drm_sched_job_run", "fence_context=%di:u64 fence_seqno=%si:u64 name=+0(%dx):string job_count=%cx:u32 hw_job_count=%r8:s32"},
		{"gpu_scheduler", "drm_sched_job_done", "drm_sched_job_done", "fence_context=%di:u64 fence_seqno=%si:u64"},
	},
	GenAMD: {
		{"gpu_sched", "amd_sched_job", "amd_sched_job", "entity=%di:u64 id=%si:u64 fence=%dx:u64 name=+0(%cx):string job_count=%r8:u32 hw_job_count=%r9:s32"},
		{"gpu_sched", "amd_sched_process_job", "amd_sched_process_job", "fence=%di:u64"},
	},
}

// FindRoot returns the tracefs mount point, or why there is none.
func FindRoot() (string, error) {
	for _, d := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		if _, err := os.Stat(filepath.Join(d, "uprobe_events")); err == nil {
			return d, nil
		}
	}
	if os.Geteuid() != 0 {
		return "", errors.New("not root: tracefs and uprobe events need root")
	}
	return "", errors.New("no tracefs with uprobe_events at /sys/kernel/tracing or /sys/kernel/debug/tracing")
}

// Lock takes the uprobe lock for the rest of the test.
func Lock(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(LockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("opening %s: %v", LockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("locking %s: %v", LockPath, err)
	}
	t.Cleanup(func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}

// Build compiles gpusim into dir.
func Build(t testing.TB, dir string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		if cc, err = exec.LookPath("gcc"); err != nil {
			t.Skip("no C compiler (cc, gcc) to build the event-firing program")
		}
	}
	src := filepath.Join(dir, "gpusim.c")
	bin := filepath.Join(dir, "gpusim")
	if err := os.WriteFile(src, gpusimC, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("building gpusim: %v\n%s", err, out)
	}
	return bin
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
func Setup(t testing.TB, gen Gen) *Harness {
	t.Helper()
	root, err := FindRoot()
	if err != nil {
		t.Skip(err.Error())
	}
	Lock(t)
	h := &Harness{Root: root, Gen: gen, Bin: Build(t, t.TempDir())}
	for _, p := range probes[gen] {
		if _, err := os.Stat(filepath.Join(root, "events", p.group, p.name)); err == nil {
			t.Fatalf("event %s:%s already exists: a real GPU scheduler, or a test that did not clean up", p.group, p.name)
		}
	}
	for _, p := range probes[gen] {
		off, err := fileOffset(h.Bin, p.fn)
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("p:%s/%s %s:%#x %s", p.group, p.name, h.Bin, off, p.args)
		if err := appendUprobe(root, line); err != nil {
			if len(h.Events) == 0 {
				t.Skipf("cannot create uprobe events (%v): the kernel lacks CONFIG_UPROBE_EVENTS?", err)
			}
			t.Fatalf("creating uprobe event %q: %v", line, err)
		}
		name := p.group + ":" + p.name
		h.Events = append(h.Events, name)
		t.Cleanup(func() {
			// The event cannot go while an instance has it enabled: the
			// source under test must be closed by then.
			var err error
			for try := 0; try < 100; try++ {
				if err = appendUprobe(root, "-:"+p.group+"/"+p.name); err == nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Errorf("deleting uprobe event %s: %v", name, err)
		})
	}
	return h
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
	if h.Gen == GenAMD {
		return 2
	}
	return 3
}

// RunPattern fires the switch-out pattern for d and returns its truth.
func (h *Harness) RunPattern(ctx context.Context, d, on, off, job time.Duration, inflight int) (*Pattern, error) {
	out, err := exec.CommandContext(ctx, h.Bin, "pattern", string(h.Gen), ms(d), us(on), us(off), us(job), strconv.Itoa(inflight)).Output()
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
	out, err := exec.CommandContext(ctx, h.Bin, "load", string(h.Gen), ms(d), strconv.Itoa(rate)).Output()
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
