package reporttext

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// fuzzSeeds are lines of every shape the reader knows.
var fuzzSeeds = []string{
	"version = 6",
	"cpus=4",
	"gpuwatch: cpus=4",
	"CPU:1 [3 EVENTS DROPPED]",
	"CPU:26 [LOST 12 EVENTS]",
	"CPU:3 [EVENTS DROPPED]",
	"CPU 2 is empty",
	"CPU0 data recorded at offset=0x5b4000",
	"# entries-in-buffer/entries-written: 9/9   #P:16",
	"         glmark2-1766  [002]  1437.801120: amd_sched_job:        entity=0xffff8801f4a3c898, id=81234, fence=0xffff8800b2c4e540, ring=ffffffffc05b1d42, job count:1, hw job count:1",
	"          <idle>-0     [000]  1437.803888: amd_sched_process_job: fence=0xffff8800b2c4e3c0 signaled",
	"gpuwatch:      glmark2-es2-2204  [001]  3921.004501210: drm_sched_job:        entity=0xffff9c4b8e1a3000, id=1287, fence=0xffff9c4b91f0c240, ring=gfx_0.0.0, job count:1, hw job count:0",
	"gpuwatch:      glmark2-es2-2204  [001]  3921.004503918: drm_sched_job_wait_dep: job ring=gfx_0.0.0, id=1287, depends fence=0xffff9c4b91f0c0c0, context=1043, seq=1286",
	"   Xorg:cs0-2504 (   2497) [000] .....   735.008782: drm_sched_job: entity=000000002d8e4f10, id=51759, fence=00000000c71a9e03, ring=gfx_0.0.0, job count:0, hw job count:2",
	"          <idle>-0       [000] dNh1.   735.009912: drm_sched_process_job: fence=000000004f3d2a19 signaled",
	"     vkcube:cs0-40211 [011] 18233.250104: drm_sched_job_queue:  dev=0000:03:00.0, fence=1873:4410, ring=gfx_0.0.0, job count:1, hw job count:0, client_id:23",
	"     vkcube:cs0-40211 [011] 18233.250105: drm_sched_job_add_dep: fence=1873:4410 depends on fence=1874:902",
	"          <idle>-0     [000] 18233.251907: drm_sched_job_done:   fence=1873:4410 signaled",
	"glmark2--2204    1d..1  3921.004501: drm_sched_job:        entity=0xffff9c4b8e1a3000, id=1287, fence=0xffff9c4b91f0c240, ring=gfx, job count:1, hw job count:0",
	"    SkinningApp-2837  [003]   475.168802: amdgpu_cs_ioctl:      sched_job=185904, timeline=gfx, context=249, seqno=91446, ring_name=ffff94d7a00d4694, num_ibs=3",
	"          <idle>-0     [000]   475.169023: dma_fence_signaled:   driver=amd_sched timeline=gfx context=249 seqno=91446",
	"           <...>-2108    [027] d..1.   735.008790: drm_run_job: entity=00000000e7c01d55, id=51758, fence=0000000093b1f6a2, ring=comp_1.0.0, job count:2, hw job count:3",
	"           <...>-0     [000]          500: drm_sched_job_wait_dep: job ring=sdma0, id=0, depends fence=0xffff801400000200, context=5, seq=8",
	"            Xorg-1514  [001]  1437.803905: irq_handler_entry:    irq=57 name=amdgpu",
}

// FuzzParseLine feeds a line (twice, the second time without its newline)
// to a Reader and checks its invariants: no panic, no error other than
// EOF / ErrNotReport, non-negative times, valid kinds, warnings that name
// the file and a line that exists, and counters that agree.
func FuzzParseLine(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		in := "cpus=2\n" + line + "\n" + line
		r := NewReader(strings.NewReader(in), "fuzz")
		n := 0
		for {
			ev, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrNotReport) {
					t.Fatalf("error %v", err)
				}
				break
			}
			n++
			if n > 4 {
				t.Fatalf("%d events from 3 lines", n)
			}
			if ev.Time < 0 {
				t.Errorf("negative time %d", ev.Time)
			}
			if ev.Kind == event.KindUnknown || int(ev.Kind) >= event.NumKinds {
				t.Errorf("bad kind %v", ev.Kind)
			}
			if ev.Kind != event.KindLost {
				sys, name, _ := strings.Cut(ev.Name, ":")
				if _, ok := tracepoint.Lookup(sys, name); !ok {
					t.Errorf("event name %q not in Known", ev.Name)
				}
			}
		}
		st := r.Stats()
		if st.Events != n {
			t.Errorf("Stats().Events = %d, returned %d", st.Events, n)
		}
		ws := r.Warnings()
		if len(ws) > st.Malformed || st.Malformed > st.Lines {
			t.Errorf("%d warnings, %d malformed, %d lines", len(ws), st.Malformed, st.Lines)
		}
		for _, w := range ws {
			if w.File != "fuzz" || w.Line < 1 || w.Line > st.Lines {
				t.Errorf("warning %v outside 1..%d", w, st.Lines)
			}
			if !strings.HasPrefix(w.Error(), "fuzz:") {
				t.Errorf("warning %q does not start with file:line", w.Error())
			}
		}
	})
}

// benchInput is about 8 MiB of report text: a GPU scheduler trace with
// some unknown events mixed in, as trace-cmd report prints it.
func benchInput(tb testing.TB) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{Gen: tracepoint.GenDRM, CPUs: 8})
	t := int64(1437_000_000_000)
	rings := []string{"gfx_0.0.0", "sdma0", "comp_1.0.0"}
	for i := 0; buf.Len() < 8<<20; i++ {
		key := event.JobKey{Fence: 0xffff_9c4b_0000_0000 + uint64(i%4096)*0x240}
		ring := rings[i%3]
		for _, k := range []event.Kind{event.KindQueue, event.KindRun, event.KindDone} {
			t += 1234
			if err := w.Write(event.Event{Time: t, CPU: int32(i % 8), PID: int32(1000 + i%50), Comm: "glmark2", Kind: k, Ring: ring, Job: key, ID: uint64(i), JobCount: 1, HWJobCount: 2}); err != nil {
				tb.Fatal(err)
			}
		}
		if i%10 == 0 {
			fmtLine := "          <idle>-0     [000]  1437.803905: sched_switch:         prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=gfx next_pid=412 next_prio=120\n"
			w.Flush()
			buf.WriteString(fmtLine)
		}
	}
	w.Flush()
	return buf.Bytes()
}

// BenchmarkReader reports MB/s, events/s, allocations per event, and
// the time relative to a bufio.Scanner pass that only splits the same
// input into lines (x-linescan).
func BenchmarkReader(b *testing.B) {
	data := benchInput(b)
	ref := func() time.Duration {
		start := time.Now()
		for i := 0; i < 3; i++ {
			sc := bufio.NewScanner(bytes.NewReader(data))
			n := 0
			for sc.Scan() {
				n += len(sc.Bytes())
			}
		}
		return time.Since(start) / 3
	}()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	events := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := NewReader(bytes.NewReader(data), "bench")
		for {
			_, err := r.Next()
			if err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			events++
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	el := b.Elapsed()
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(events), "allocs/event")
	b.ReportMetric(float64(events)/el.Seconds(), "events/s")
	b.ReportMetric(float64(el)/float64(b.N)/float64(ref), "x-linescan")
}

// TestReportSteadyStateAllocs checks the per-line path allocates nothing
// once ring, comm and unknown-event names are interned.
func TestReportSteadyStateAllocs(t *testing.T) {
	var buf bytes.Buffer
	for _, s := range fuzzSeeds {
		buf.WriteString(s)
		buf.WriteByte('\n')
	}
	src := &endlessReader{line: buf.Bytes()}
	r := NewReader(src, "allocs")
	for i := 0; i < 1000; i++ {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(2000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("%.2f allocations per event in the steady state, want 0", a)
	}
}

// fuzzName keeps the strings a kernel could print in a comm or ring
// column unambiguously: printable ASCII, no surrounding spaces, no ": "
// (the instance separator) or "," (the field separator of the formats).
func fuzzName(s string, max int) (string, bool) {
	if len(s) == 0 || len(s) > max || s[0] == ' ' || s[len(s)-1] == ' ' || strings.Contains(s, ": ") || strings.ContainsAny(s, ",[") {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 && s[i] != ' ' || s[i] > 0x7e {
			return "", false
		}
	}
	return s, true
}

// FuzzTextRoundTrip writes one arbitrary event with the Writer and
// reads it back: the Reader must return exactly what the generation's
// format carries (writerExpect).
func FuzzTextRoundTrip(f *testing.F) {
	f.Add(uint8(1), false, int64(1437_803_888_123), uint16(3), uint32(1514), "Xorg", uint8(event.KindQueue), "gfx", uint64(0xffff8800b2c4e540), uint32(0), uint32(0), uint64(7))
	f.Add(uint8(2), true, int64(18233_250_104_000), uint16(11), uint32(40211), "vkcube:cs0", uint8(event.KindRun), "gfx_0.0.0", uint64(0), uint32(1873), uint32(4410), uint64(0))
	f.Add(uint8(0), false, int64(2_000_000_000), uint16(0), uint32(0), "<idle>", uint8(event.KindDone), "sdma0", uint64(0xffff8800b2c4e3c0), uint32(0), uint32(0), uint64(0))
	f.Fuzz(func(t *testing.T, gen uint8, ns bool, ts int64, cpu uint16, pid uint32, comm string, kind uint8, ring string, fence uint64, ctx, seq uint32, id uint64) {
		g := tracepoint.Generation(int(gen) % len(tracepoint.Generations()))
		k := event.Kind(int(kind)%(event.NumKinds-1) + 1)
		var ok bool
		if comm, ok = fuzzName(comm, 15); !ok {
			return
		}
		if ring, ok = fuzzName(ring, 32); !ok {
			return
		}
		if ts < 1_000_000_000 || ts > 1<<62 || pid > 1<<22 {
			return
		}
		ev := event.Event{Time: ts, CPU: int32(cpu), PID: int32(pid), Comm: comm, Kind: k, Ring: ring, ID: id, JobCount: 1, HWJobCount: 2, Count: uint64(seq)}
		if fence != 0 {
			ev.Job.Fence = fence
		} else {
			ev.Job.Context, ev.Job.Seqno = uint64(ctx), uint64(seq)
		}
		var buf bytes.Buffer
		w := NewWriter(&buf, WriterOptions{Gen: g, Nanoseconds: ns})
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		want, written := writerExpect(ev, g, ns, 0)
		r := NewReader(&buf, "rt")
		got, err := r.Next()
		if !written {
			if err != io.EOF {
				t.Fatalf("skipped event read back as %v, %v", got, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, buf.String())
		}
		if got != want {
			t.Fatalf("\n got %s\nwant %s\ntext %s", formatEvent(got), formatEvent(want), buf.String())
		}
	})
}
