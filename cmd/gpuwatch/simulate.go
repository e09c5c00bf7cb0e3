package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/simulate"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
)

func init() {
	commands = append(commands, command{"simulate", "write a simulated guest trace (trace-cmd report text) and its ground truth", runSimulate})
}

const simulateUsage = `usage: gpuwatch simulate [flags]

Simulates a GPU time-sliced between VFs by a host scheduler and a guest
driving jobs on its rings, and writes the guest's GPU scheduler events as
'trace-cmd report' text in one kernel generation's format; --truth writes
what really happened (slice, period, share, every switched-out window) as
JSON. Seeded: the same flags give the same bytes.

examples:
  gpuwatch simulate --vfs 2 --slice 6ms -o half.report --truth half.truth.json
  gpuwatch simulate --vfs 4 --slice 3ms --policy skip --format 6.17 --ns
  gpuwatch simulate --policy none --workload frames --fps 60
  gpuwatch simulate --rings gfx,sdma0 --size 64MB -o big.report

flags:
`

// byteSize reads 1024, 64KB, 64MB, 1GB (powers of 1024; "B" optional).
func byteSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "IB")
	t = strings.TrimSuffix(t, "B")
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "K"):
		mult, t = 1<<10, t[:len(t)-1]
	case strings.HasSuffix(t, "M"):
		mult, t = 1<<20, t[:len(t)-1]
	case strings.HasSuffix(t, "G"):
		mult, t = 1<<30, t[:len(t)-1]
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (want bytes, or a number with KB, MB, GB)", s)
	}
	return int64(n * float64(mult)), nil
}

func durations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func runSimulate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vfs := fs.Int("vfs", 2, "number of VFs sharing the GPU (ours is VF 0)")
	slice := fs.String("slice", "6ms", "slice per VF: one `DURATION`, or a comma-separated list, ours first")
	sw := fs.Duration("switch", 200*time.Microsecond, "world-switch cost after each turn")
	jitter := fs.Duration("jitter", 0, "each slice is drawn uniformly in slice ± jitter")
	policy := fs.String("policy", "strict", "host policy: strict (round robin, idle VFs keep their turn), skip (idle neighbours skipped), none (passthrough)")
	load := fs.Float64("neighbour-load", 0.6, "skip policy: probability that a neighbour is busy in a round")
	nOn := fs.Duration("neighbour-on", 0, "skip policy: each neighbour is busy this long, then idle for --neighbour-off (instead of --neighbour-load)")
	nOff := fs.Duration("neighbour-off", 0, "skip policy: each neighbour's idle time between busy stretches")
	workload := fs.String("workload", "saturate", "guest workload: saturate, frames, bursts, long")
	rings := fs.String("rings", "gfx", "comma-separated ring names (gfx, sdma0, comp_1.0.0, ...)")
	job := fs.Duration("job", 0, "mean job duration on the first ring (sdma rings: a third); 0: 300µs, or 2.5 slices for --workload long")
	jobDist := fs.String("job-dist", "const", "job duration distribution: const, exp, uniform (±50 %)")
	fps := fs.Float64("fps", 60, "frames workload: frames per second")
	perFrame := fs.Int("jobs-per-frame", 8, "frames workload: jobs per frame on the first ring")
	duration := fs.Duration("duration", 2*time.Second, "trace length (ignored with --size)")
	start := fs.Duration("start", 1437*time.Second, "trace clock of the trace's start (≥ 1s)")
	seed := fs.Uint64("seed", 1, "random seed")
	format := fs.String("format", "4.16", "tracepoint generation: 4.15 (gpu_sched), 4.16 (drm_sched, up to 6.16), 6.17")
	ns := fs.Bool("ns", false, "nanosecond timestamps (trace-cmd report -t)")
	lostEvery := fs.Int("lost-every", 0, "drop a few events after every `N` and write a lost-events marker")
	instance := fs.String("instance", "", "prefix lines with a trace-cmd buffer instance `NAME`")
	cpus := fs.Int("cpus", 2, "cpus=N header value")
	out := fs.String("o", "-", "write the report text to `FILE` (- for standard output)")
	truthFile := fs.String("truth", "", "write the ground truth as JSON to `FILE`")
	size := fs.String("size", "", "keep simulating until `BYTES` (e.g. 64MB, 1GB) are written, instead of --duration")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), simulateUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseCommandFlags(fs, args, stderr); !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gpuwatch simulate: "+format+"\n", a...)
		return exitUsage
	}
	pol, err := simulate.ParsePolicy(*policy)
	if err != nil {
		return usageErr("--policy: %v", err)
	}
	slices, err := durations(*slice)
	if err != nil {
		return usageErr("--slice: %v", err)
	}
	if pol != simulate.None && len(slices) != 1 && len(slices) != *vfs {
		return usageErr("--slice: %d slices for %d VFs (give one, or one per VF)", len(slices), *vfs)
	}
	gen, err := tracefs.ParseGeneration(*format)
	if err != nil {
		return usageErr("--format: %v", err)
	}
	var budget int64
	if *size != "" {
		if budget, err = byteSize(*size); err != nil {
			return usageErr("--size: %v", err)
		}
	}
	var ringNames []string
	for _, r := range strings.Split(*rings, ",") {
		if r = strings.TrimSpace(r); r != "" {
			ringNames = append(ringNames, r)
		}
	}
	switch *workload {
	case "saturate", "frames", "bursts", "long":
	default:
		return usageErr("--workload: unknown workload %q (want saturate, frames, bursts or long)", *workload)
	}
	switch *jobDist {
	case "const", "exp", "uniform":
	default:
		return usageErr("--job-dist: unknown distribution %q (want const, exp or uniform)", *jobDist)
	}
	if *start < time.Second {
		return usageErr("--start: %v is before 1s", *start)
	}
	if *cpus < 1 {
		return usageErr("--cpus: %d, want at least 1", *cpus)
	}
	p := simulate.Params{
		VFs: *vfs, Slices: slices, SwitchCost: *sw, Jitter: *jitter, Policy: pol, NeighbourLoad: *load,
		NeighbourOn: *nOn, NeighbourOff: *nOff, CPUs: *cpus,
		Workload: *workload, Rings: ringNames, Job: *job, JobDist: *jobDist, FPS: *fps, JobsPerFrame: *perFrame,
		Duration: *duration, Start: *start, Seed: *seed, Gen: gen, Nanoseconds: *ns, LostEvery: *lostEvery,
	}
	if pol == simulate.None {
		p.VFs, p.Slices = 1, nil
	}
	if budget > 0 {
		p.Duration = 1 << 62 // bounded by the byte budget
	}
	sc := p.Scenario()
	sc.Name = "simulate"
	if err := sc.Validate(); err != nil {
		return usageErr("%v", err)
	}

	var w io.Writer = stdout
	var f *os.File
	if *out != "-" && *out != "" {
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintf(stderr, "gpuwatch simulate: %v\n", err)
			return exitVerdict
		}
		defer f.Close()
		w = f
	}
	cw := &countWriter{w: w}
	tw := tracefs.NewTextWriter(cw, tracefs.WriterOptions{Gen: gen, Nanoseconds: *ns, Instance: *instance, CPUs: *cpus})
	tr, err := simulate.Run(sc, func(ev event.Event) error {
		if err := tw.Write(ev); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
		if budget > 0 && cw.n >= budget {
			return simulate.ErrStop
		}
		return nil
	})
	if err == nil {
		err = tw.Flush()
	}
	if err == nil && f != nil {
		err = f.Close()
		f = nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "gpuwatch simulate: %v\n", err)
		return exitVerdict
	}
	if *truthFile != "" {
		if err := writeTruth(*truthFile, &tr); err != nil {
			fmt.Fprintf(stderr, "gpuwatch simulate: %v\n", err)
			return exitVerdict
		}
	}
	return exitOK
}

func writeTruth(path string, tr *simulate.Truth) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	enc.SetIndent("", " ")
	if err := enc.Encode(tr); err != nil {
		f.Close()
		return fmt.Errorf("writing truth: %w", err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing truth: %w", err)
	}
	return f.Close()
}
