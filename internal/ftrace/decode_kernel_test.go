package ftrace_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/ftrace"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

var decUpdatePages = flag.Bool("update-pages", false, "save the pages captured by the real-kernel decode tests into testdata/pages")

// decInstance creates a tracefs instance of its own with the harness's
// events enabled; t.Cleanup disables and removes it (before the harness
// deletes the events).
func decInstance(t *testing.T, h *livetest.Harness, bufKB int) string {
	t.Helper()
	inst := filepath.Join(h.Root, "instances", fmt.Sprintf("gpuwatch-decode-%d", os.Getpid()))
	if err := os.Mkdir(inst, 0o755); err != nil {
		livetest.Skip(t, "cannot create a tracefs instance: %v", err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(inst, "events", "gpu_scheduler", "enable"), []byte("0"), 0)
		var err error
		for try := 0; try < 100; try++ {
			if err = syscall.Rmdir(inst); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("removing instance %s: %v", inst, err)
	})
	decWrite(t, filepath.Join(inst, "buffer_size_kb"), fmt.Sprint(bufKB))
	decWrite(t, filepath.Join(inst, "events", "gpu_scheduler", "enable"), "1")
	return inst
}

func decWrite(t *testing.T, path, v string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(v), 0); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

// decDrain reads every page of every CPU of inst, non-blocking.
func decDrain(t *testing.T, inst string) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	cpus, _ := filepath.Glob(filepath.Join(inst, "per_cpu", "cpu*"))
	for _, c := range cpus {
		fd, err := syscall.Open(filepath.Join(c, "trace_pipe_raw"), syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		for {
			buf := make([]byte, 4096)
			n, err := syscall.Read(fd, buf)
			if errors.Is(err, syscall.EAGAIN) || (err == nil && n == 0) {
				break
			}
			if err != nil {
				syscall.Close(fd)
				t.Fatal(err)
			}
			out[filepath.Base(c)] = append(out[filepath.Base(c)], buf[:n])
		}
		syscall.Close(fd)
	}
	return out
}

// decCapture loads the layout and the formats the instance uses, as a
// live source would (and saves them with -update-pages).
func decCapture(t *testing.T, h *livetest.Harness, inst string, pages map[string][][]byte, save string) (ftrace.PageLayout, ftrace.HeaderEvent, *ftrace.Decoder) {
	t.Helper()
	dir := t.TempDir()
	if *decUpdatePages {
		dir = filepath.Join("testdata", "pages", save)
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cp := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cp(filepath.Join(inst, "events", "header_page"), "header_page")
	cp(filepath.Join(inst, "events", "header_event"), "header_event")
	for _, name := range h.Events {
		sys, ev, _ := strings.Cut(name, ":")
		cp(filepath.Join(inst, "events", sys, ev, "format"), sys+"__"+ev+".format")
	}
	for cpu, ps := range pages {
		var all []byte
		for _, p := range ps {
			all = append(all, p...)
		}
		if err := os.WriteFile(filepath.Join(dir, cpu+".raw"), all, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ftrace.PageLoadDir(t, dir)
}

// TestRealKernelDecode fires uprobe events shaped like gpu_scheduler's
// drm_sched_job/drm_run_job/drm_sched_process_job from a C program with
// chosen values, reads the instance's trace_pipe_raw pages and checks every
// decoded event against what the program fired, including a pause longer
// than 2^27 ns (a time extend).
func TestRealKernelDecode(t *testing.T) {
	if os.Geteuid() != 0 {
		livetest.Skip(t, "needs root to create uprobe events and a tracefs instance")
	}
	h := livetest.Setup(t, tracepoint.GenDRM)
	inst := decInstance(t, h, 2048)
	// Both runs on one CPU, so the pause lies inside one CPU's page.
	decPinCPU0(t)
	ctx := context.Background()
	f1, err := h.RunLoad(ctx, 30*time.Millisecond, 10000)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	f2, err := h.RunLoad(ctx, 30*time.Millisecond, 10000)
	if err != nil {
		t.Fatal(err)
	}
	decWrite(t, filepath.Join(inst, "events", "gpu_scheduler", "enable"), "0")
	pages := decDrain(t, inst)
	l, he, dec := decCapture(t, h, inst, pages, "drm_load")

	var evs []event.Event
	var extends int
	for cpu, ps := range pages {
		var n int
		fmt.Sscanf(cpu, "cpu%d", &n)
		for _, p := range ps {
			info, err := ftrace.DecodePage(l, he, p, func(ts uint64, rec []byte) {
				var ev event.Event
				ok, err := dec.Decode(ts, n, rec, &ev)
				if !ok || err != nil {
					t.Errorf("record not decoded: ok=%v err=%v", ok, err)
					return
				}
				evs = append(evs, ev)
			})
			if err != nil {
				t.Fatalf("%s: %v", cpu, err)
			}
			if info.Missed {
				t.Fatalf("%s: events lost with a 2 MiB buffer", cpu)
			}
			extends += info.Extends
		}
	}
	fired := f1 + f2
	if uint64(len(evs)) != fired {
		t.Fatalf("decoded %d events, the program fired %d", len(evs), fired)
	}
	if extends == 0 {
		t.Error("no time extend across a 300 ms pause")
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time < evs[j].Time })
	// The program: for k in 0..: drm_sched_job and drm_run_job(entity,
	// id=k+1, fence=0xffff888100000000+k*0x100, ring "gfx", 0, 1), then
	// drm_sched_process_job(fence).
	const entity, fence0 = 0xffff888012340000, 0xffff888100000000
	next := map[int32]uint64{}
	kinds := []event.Kind{event.KindQueue, event.KindRun, event.KindDone}
	names := []string{"gpu_scheduler:drm_sched_job", "gpu_scheduler:drm_run_job", "gpu_scheduler:drm_sched_process_job"}
	pids := map[int32]int{}
	for i, ev := range evs {
		k := next[ev.PID] / 3
		step := next[ev.PID] % 3
		next[ev.PID]++
		pids[ev.PID]++
		want := event.Event{Time: ev.Time, CPU: ev.CPU, PID: ev.PID, Kind: kinds[step], Name: names[step],
			Job: event.JobKey{Fence: fence0 + k*0x100}, JobCount: -1, HWJobCount: -1}
		if step < 2 {
			want.Ring, want.ID, want.Entity, want.JobCount, want.HWJobCount = "gfx", k+1, entity, 0, 1
		}
		if ev != want {
			t.Fatalf("event %d:\n got  %+v\n want %+v", i, ev, want)
		}
		if ev.PID <= 0 {
			t.Fatalf("event %d: pid %d", i, ev.PID)
		}
	}
	if len(pids) != 2 {
		t.Errorf("events from %d pids, want the 2 program runs", len(pids))
	}
}

// TestRealKernelLost overflows a tiny overwriting buffer: the pages carry
// the missed-events flag and the count the kernel stored, and decoded plus
// lost events account for every event fired.
func TestRealKernelLost(t *testing.T) {
	if os.Geteuid() != 0 {
		livetest.Skip(t, "needs root to create uprobe events and a tracefs instance")
	}
	h := livetest.Setup(t, tracepoint.GenDRM)
	inst := decInstance(t, h, 8)
	fired, err := h.RunLoad(context.Background(), 20*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	decWrite(t, filepath.Join(inst, "events", "gpu_scheduler", "enable"), "0")
	pages := decDrain(t, inst)
	l, he, dec := decCapture(t, h, inst, pages, "drm_lost")
	var decoded, lost uint64
	missed, unknown := 0, 0
	for _, ps := range pages {
		for _, p := range ps {
			info, err := ftrace.DecodePage(l, he, p, func(ts uint64, rec []byte) {
				var ev event.Event
				if ok, err := dec.Decode(ts, 0, rec, &ev); !ok || err != nil {
					t.Errorf("record not decoded: %v", err)
				}
				decoded++
			})
			if err != nil {
				t.Fatal(err)
			}
			if info.Missed {
				missed++
				if info.LostKnown {
					lost += info.Lost
				} else {
					unknown++
				}
			}
		}
	}
	t.Logf("fired %d, decoded %d, lost %d on %d pages (%d without a count)", fired, decoded, lost, missed, unknown)
	if missed == 0 {
		t.Fatalf("no page reports lost events after %d events into an 8 KiB buffer", fired)
	}
	if unknown == 0 && decoded+lost != fired {
		t.Errorf("decoded %d + lost %d != fired %d", decoded, lost, fired)
	}
	if decoded+lost > fired {
		t.Errorf("decoded %d + lost %d > fired %d", decoded, lost, fired)
	}
}

// decPinCPU0 binds the test's thread, and so the programs it starts, to
// CPU 0 until the test ends.
func decPinCPU0(t *testing.T) {
	runtime.LockOSThread()
	var old, one [16]uint64
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, uintptr(len(old)*8), uintptr(unsafe.Pointer(&old[0]))); e != 0 {
		runtime.UnlockOSThread()
		t.Fatalf("sched_getaffinity: %v", e)
	}
	one[0] = 1
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, uintptr(len(one)*8), uintptr(unsafe.Pointer(&one[0]))); e != 0 {
		runtime.UnlockOSThread()
		t.Fatalf("sched_setaffinity: %v", e)
	}
	t.Cleanup(func() {
		syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, uintptr(len(old)*8), uintptr(unsafe.Pointer(&old[0])))
		runtime.UnlockOSThread()
	})
}
