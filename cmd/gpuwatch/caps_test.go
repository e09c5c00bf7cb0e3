package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// TestAnalyzeManyRingsMemory: a small gzip naming 300,000 distinct rings
// (an hostile input) is analysed in bounded memory: the rings beyond the
// engine's cap are followed as one and counted. The bound is on the peak
// resident set of a gpuwatch process (getrusage), not on time.
func TestAnalyzeManyRingsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and writes a 300k-ring trace")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "rings.report.gz")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	w := reporttext.NewWriter(zw, reporttext.WriterOptions{Gen: tracepoint.GenDRM, Nanoseconds: true})
	const rings = 300_000
	tt := int64(1e9)
	for i := 0; i < rings; i++ {
		fence := uint64(0x1000 + i*0x40)
		ring := fmt.Sprintf("r%d", i)
		tt += 1000
		w.Write(event.Event{Time: tt, PID: 7, Comm: "x", Kind: event.KindRun, Ring: ring, ID: uint64(i), Job: event.JobKey{Fence: fence}, HWJobCount: 1})
		tt += 1000
		w.Write(event.Event{Time: tt, PID: 7, Comm: "x", Kind: event.KindDone, Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1})
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	f.Close()
	bin := buildGpuwatch(t)
	// A ceiling on address space keeps a regression from taking the
	// machine's memory down with it.
	cmd := exec.Command("/bin/sh", "-c", `ulimit -v 4194304; exec "$0" analyze --json "$1"`, bin, in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != exitVerdict && ee.ExitCode() != exitOK) {
		t.Fatalf("analyze: %v\n%s", err, errb.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	peak := ru.Maxrss << 10 // KiB on Linux
	fi, _ := os.Stat(in)
	t.Logf("%d rings, %.1f MB of gzip: peak RSS %d MiB", rings, float64(fi.Size())/1e6, peak>>20)
	if peak > 256<<20 {
		t.Errorf("peak RSS %d MiB, want under 256 MiB", peak>>20)
	}
	if !strings.Contains(out.String(), `"capped_ring_events":`) {
		t.Errorf("the report does not say that rings were capped")
	}
}

// TestAnalyzeLostSaturates: "[LOST N EVENTS]" counts that would sum past
// 2^64 saturate instead of wrapping to a small number.
func TestAnalyzeLostSaturates(t *testing.T) {
	seed, err := os.ReadFile(recordSeed)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(seed), "\n")
	marker := "CPU:0 [LOST 18446744073709551615 EVENTS]\n"
	text := strings.Join(lines[:10], "") + marker + strings.Join(lines[10:20], "") + marker + strings.Join(lines[20:], "")
	in := filepath.Join(t.TempDir(), "lost.report")
	os.WriteFile(in, []byte(text), 0o644)
	var out, errb bytes.Buffer
	run([]string{"analyze", "--json", in}, &out, &errb)
	if !strings.Contains(out.String(), `"lost_events": 18446744073709551615,`) {
		t.Errorf("lost events do not saturate: %.300s %s", out.String(), errb.String())
	}
}
