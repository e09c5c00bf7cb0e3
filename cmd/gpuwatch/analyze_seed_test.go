package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files and generated traces")

// seedTraceFile is the seed article's trace, rebuilt (see genSeedReport).
var seedTraceFile = filepath.Join("..", "..", "testdata", "traces", "seed-s7150-half.report")

// seedWindowsUS is the table of the second seed article
// (/work/shared/seeds/002_f1e64ab855c96c9b.txt), in µs: between these
// completions the 1/2 S7150 guest made no progress.
var seedWindowsUS = [][2]int64{
	{1437803888, 1437810159},
	{1437816378, 1437822720},
	{1437829105, 1437835127},
	{1437841587, 1437847506},
}

// genSeedReport writes the text of `trace-cmd report` (trace-cmd 2.x, µs
// timestamps) of the seed's guest: an Ubuntu guest on Linux ≤ 4.15 with the
// amdgpu VF driver, one half of a FirePro S7150, recorded with
// `trace-cmd record -e gpu_sched` while glmark2 runs.
//
// Scenario:
//   - glmark2 (pid 2211) keeps two gfx jobs in flight: each completion lets
//     it queue the next job 12–45 µs later; gfx jobs take 0.2–0.5 ms;
//   - a kworker queues a short sdma0 copy (40–90 µs) every 1.5–2.5 ms;
//   - the host gives the VF the GPU in turns: while it is switched out
//     nothing completes (jobs stay in flight); completions stop exactly over
//     the seed's four windows, and the trace starts and ends inside turns
//     (about 6 ms before the first window and 5.4 ms after the last), so
//     exactly those four windows are switched-out;
//   - completions are signalled from the fence interrupt on CPU 0, in the
//     context of whatever runs there (mostly <idle>-0).
//
// The RNG is seeded: the output is the same on every run.
func genSeedReport() []byte {
	rng := rand.New(rand.NewPCG(1437, 2))
	uni := func(lo, hi int64) int64 { return lo + rng.Int64N(hi-lo+1) }

	type line struct {
		t, seq int64
		text   string
	}
	var lines []line
	var seq int64
	emit := func(t int64, comm string, pid, cpu int, name, body string) {
		pad := ""
		if len(name) < 20 {
			pad = "                    "[:20-len(name)]
		}
		seq++
		lines = append(lines, line{t, seq, fmt.Sprintf("%16s-%-5d [%03d] %5d.%06d: %s: %s%s",
			comm, pid, cpu, t/1e6, t%1e6, name, pad, body)})
	}
	irq := func() (string, int) {
		if rng.IntN(5) == 0 {
			return "Xorg", 1034
		}
		return "<idle>", 0
	}
	const (
		gfxEntity  = 0xffff8802f8a10248
		sdmaEntity = 0xffff8802fb4e0e10
	)
	gfxFence := func(k int) uint64 { return 0xffff8802f5a1c000 + uint64(k%40)*0x100 }
	gfxJob := func(k int) uint64 { return 0xffff8802e3c1a000 + uint64(k%40)*0x200 }
	sdmaFence := func(k int) uint64 { return 0xffff8802f5a3e000 + uint64(k%16)*0x100 }
	sdmaJob := func(k int) uint64 { return 0xffff8802e3c4c000 + uint64(k%16)*0x200 }
	queue := func(t int64, comm string, pid, cpu int, entity, job, fence uint64, ring string, jc, hw int) {
		emit(t, comm, pid, cpu, "amd_sched_job", fmt.Sprintf("entity=0x%016x, sched job=0x%016x, fence=0x%016x, ring=%s, job count:%d, hw job count:%d",
			entity, job, fence, ring, jc, hw))
	}
	done := func(t int64, fence uint64) {
		comm, pid := irq()
		emit(t, comm, pid, 0, "amd_sched_process_job", fmt.Sprintf("fence=0x%016x signaled", fence))
	}

	// Turns: the VF holds the GPU between consecutive windows.
	first, last := int64(1437797950), int64(1437852900)
	turns := [][2]int64{{first, seedWindowsUS[0][0]}}
	for i := 0; i+1 < len(seedWindowsUS); i++ {
		turns = append(turns, [2]int64{seedWindowsUS[i][1], seedWindowsUS[i+1][0]})
	}
	turns = append(turns, [2]int64{seedWindowsUS[len(seedWindowsUS)-1][1], last})

	// gfx: completions from each turn's start to its end, 0.2–0.5 ms apart.
	var gfxDone []int64
	for _, tn := range turns {
		span := tn[1] - tn[0]
		n := int((span + 175) / 350)
		gaps := make([]int64, n)
		var sum int64
		for i := range gaps {
			gaps[i] = uni(200, 500)
			sum += gaps[i]
		}
		t := tn[0]
		gfxDone = append(gfxDone, t)
		var acc int64
		for i := 0; i < n-1; i++ {
			acc += gaps[i]
			gfxDone = append(gfxDone, tn[0]+acc*span/sum)
		}
		gfxDone = append(gfxDone, tn[1])
	}
	const depth = 2
	queue(first-300, "glmark2", 2211, 2, gfxEntity, gfxJob(0), gfxFence(0), "gfx", 0, 1)
	queue(first-278, "glmark2", 2211, 2, gfxEntity, gfxJob(1), gfxFence(1), "gfx", 1, 2)
	for k, t := range gfxDone {
		done(t, gfxFence(k))
		next := k + depth
		queue(t+uni(12, 45), "glmark2", 2211, 2+rng.IntN(2), gfxEntity, gfxJob(next), gfxFence(next), "gfx", 0, depth)
	}

	// sdma0: short copies well inside turns.
	sk := 0
	for _, tn := range turns {
		for q := tn[0] + uni(200, 900); q+90 < tn[1]-300; q += uni(1500, 2500) {
			queue(q, "kworker/u8:3", 143, rng.IntN(4), sdmaEntity, sdmaJob(sk), sdmaFence(sk), "sdma0", 0, 1)
			done(q+uni(40, 90), sdmaFence(sk))
			sk++
		}
	}

	sort.SliceStable(lines, func(i, j int) bool { return lines[i].t < lines[j].t })
	var b bytes.Buffer
	b.WriteString("version = 6\nCPU 1 is empty\ncpus=4\n")
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestSeedTraceUpToDate checks that the committed seed trace is what the
// generator writes (go test -run SeedTrace -update rewrites it).
func TestSeedTraceUpToDate(t *testing.T) {
	want := genSeedReport()
	if *update {
		if err := os.WriteFile(seedTraceFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(seedTraceFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what genSeedReport writes; run go test -run SeedTrace -update", seedTraceFile)
	}
}
