package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/simulate"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

func init() {
	commands = append(commands, command{"simulate", "write a simulated guest trace (trace-cmd report text) and its ground truth", runSimulate})
}

const simulateUsage = `usage: gpuwatch simulate [flags]

Simulates a GPU time-sliced between VFs by a host scheduler and a guest
driving jobs on its rings, and writes the guest's GPU scheduler events as
'trace-cmd report' text in one kernel generation's format; --truth writes
what really happened (slice, period, share, held share, every switched-out
window, steal and outage spans) as JSON. Seeded: the same flags give the
same bytes.

examples:
  gpuwatch simulate --vfs 2 --slice 6ms -o half.report --truth half.truth.json
  gpuwatch simulate --vfs 4 --slice 3ms --policy skip --format 6.17 --ns
  gpuwatch simulate --policy none --workload frames --fps 60
  gpuwatch simulate --rings gfx,sdma0 --size 64MB -o big.report
  gpuwatch simulate --jitter 50us --jitter-mode accumulate --switch-step 100us
  gpuwatch simulate --policy liquid --neighbour-load 0.7 --duration 3s
  gpuwatch simulate --steal-every 125ms --steal-len 1.5ms
  gpuwatch simulate --duration 6s --outage 2s+1.5s

Host models (docs/simulator.md): --jitter-mode accumulate re-arms a
relative timer after each switch (turn starts drift, GIM 3.0), deadline
keeps absolute deadlines; --switch-step polls switch completion in steps;
--policy liquid skips idle VFs and extends a lone VF by whole quanta,
fairness charges overruns to the next slice (GIM 8).

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
	jitter := fs.Duration("jitter", 0, "per-switch jitter: each switch-out happens up to ± this from where --jitter-mode puts it")
	jitterMode := fs.String("jitter-mode", "accumulate", "accumulate (relative timer re-armed after each switch: turn starts drift) or deadline (absolute deadlines)")
	switchStep := fs.Duration("switch-step", 0, "switch completion is polled in steps of this `DURATION` (e.g. 100us): switch costs vary in steps")
	policy := fs.String("policy", "strict", "host policy: strict (round robin, idle VFs keep their turn), skip (idle neighbours skipped), liquid (idle VFs skipped, a lone VF extended by whole quanta), fairness (overruns charged to the next slice), none (passthrough)")
	load := fs.String("neighbour-load", "0.6", "skip/liquid: probability that a neighbour is busy in a round; one value, or one per neighbour (comma-separated, VF 1 first)")
	nOn := fs.String("neighbour-on", "0s", "skip/liquid: each neighbour is busy this long, then idle for --neighbour-off (instead of --neighbour-load); one `DURATION` or one per neighbour")
	nOff := fs.String("neighbour-off", "0s", "skip/liquid: each neighbour's idle time between busy stretches; one `DURATION` or one per neighbour")
	stealEvery := fs.Duration("steal-every", 0, "vCPU steal on the interrupt CPU: one episode per this `DURATION` on average (Poisson)")
	stealLen := fs.Duration("steal-len", 1500*time.Microsecond, "length of a steal episode (± 25 %)")
	var outages []simulate.Outage
	outageFlag := func(kind, usage string) {
		fs.Func(kind, usage, func(v string) error {
			o, err := simulate.ParseOutage(v, kind)
			outages = append(outages, o)
			return err
		})
	}
	outageFlag("outage", "our VF gets no turn for LEN from AT after the trace's start (`AT+LEN`, e.g. 2s+1.5s; repeatable)")
	outageFlag("starve", "starvation: no turn for our VF for LEN from AT, jobs left in flight (`AT+LEN`, e.g. 1s+5s; repeatable)")
	workload := fs.String("workload", "saturate", "guest workload: saturate, frames, bursts, long")
	rings := fs.String("rings", "gfx", "comma-separated ring names (gfx, sdma0, comp_1.0.0, ...)")
	job := fs.Duration("job", 0, "mean job duration on the first ring (sdma rings: a third); 0: 300µs, or 2.5 slices for --workload long")
	jobDist := fs.String("job-dist", "const", "job duration distribution: const, exp, uniform (±50 %), bimodal (1 job in 20 is 20 times as long)")
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
	gen, err := tracepoint.ParseGeneration(*format)
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
	wl, err := simulate.ParseWorkload(*workload)
	if err != nil {
		return usageErr("--workload: %v", err)
	}
	dist, err := simulate.ParseDist(*jobDist)
	if err != nil {
		return usageErr("--job-dist: %v", err)
	}
	jm, err := simulate.ParseJitterMode(*jitterMode)
	if err != nil {
		return usageErr("--jitter-mode: %v", err)
	}
	if *jitter < 0 {
		return usageErr("--jitter: %v is negative", *jitter)
	}
	if *switchStep < 0 {
		return usageErr("--switch-step: %v is negative", *switchStep)
	}
	if *stealEvery < 0 || (*stealEvery > 0 && *stealEvery < 100*time.Microsecond) {
		return usageErr("--steal-every: %v, want 0 (none) or at least 100µs", *stealEvery)
	}
	if *stealLen < time.Microsecond {
		return usageErr("--steal-len: %v, want at least 1µs", *stealLen)
	}
	nb, nload, nonoff, err := neighbourFlags(*load, *nOn, *nOff, *vfs)
	if err != nil {
		return usageErr("%v", err)
	}
	if pol != simulate.None {
		for _, sl := range slices {
			if *jitter >= sl {
				return usageErr("--jitter: %v not below the slice %v", *jitter, sl)
			}
		}
	}
	if len(outages) > 0 && pol == simulate.None {
		return usageErr("--outage/--starve: need a time-sliced host, not --policy none")
	}
	if *start < time.Second {
		return usageErr("--start: %v is before 1s", *start)
	}
	if *cpus < 1 {
		return usageErr("--cpus: %d, want at least 1", *cpus)
	}
	p := simulate.Params{
		VFs: *vfs, Slices: slices, SwitchCost: *sw, SwitchStep: *switchStep, Jitter: *jitter, JitterMode: jm,
		Policy: pol, NeighbourLoad: nload, NeighbourOn: nonoff[0], NeighbourOff: nonoff[1], Neighbours: nb,
		StealEvery: *stealEvery, StealLen: *stealLen, Outages: outages, CPUs: *cpus,
		Workload: wl, Rings: ringNames, Job: *job, JobDist: dist, FPS: *fps, JobsPerFrame: *perFrame,
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
	var stop func() bool
	if budget > 0 {
		stop = func() bool { return cw.n >= budget }
	}
	tr, err := simulate.WriteReport(cw, sc, *instance, stop)
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

// neighbourFlags reads --neighbour-load, --neighbour-on and
// --neighbour-off: each one value (every neighbour) or one per neighbour.
// With one value each it returns no per-neighbour list (the scenario's
// defaults carry them); otherwise one entry per neighbour.
func neighbourFlags(load, on, off string, vfs int) (nb []simulate.Neighbour, l float64, onoff [2]time.Duration, err error) {
	var loads []float64
	for _, f := range strings.Split(load, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 0 || v > 1 {
			return nil, 0, onoff, fmt.Errorf("--neighbour-load: %q is no probability in [0,1]", f)
		}
		loads = append(loads, v)
	}
	ons, err := durations(on)
	if err != nil {
		return nil, 0, onoff, fmt.Errorf("--neighbour-on: %v", err)
	}
	offs, err := durations(off)
	if err != nil {
		return nil, 0, onoff, fmt.Errorf("--neighbour-off: %v", err)
	}
	n := max(vfs-1, 1)
	for _, c := range []struct {
		name string
		k    int
	}{{"--neighbour-load", len(loads)}, {"--neighbour-on", len(ons)}, {"--neighbour-off", len(offs)}} {
		if c.k != 1 && c.k != n {
			return nil, 0, onoff, fmt.Errorf("%s: %d values for %d neighbours (give one, or one per neighbour)", c.name, c.k, n)
		}
	}
	pick := func(k int, i int) int { return min(i, k-1) }
	for i := 0; i < n; i++ {
		if a, b := ons[pick(len(ons), i)], offs[pick(len(offs), i)]; a < 0 || b < 0 || (a > 0) != (b > 0) {
			return nil, 0, onoff, fmt.Errorf("--neighbour-on/--neighbour-off: neighbour %d busy %v, idle %v (want both > 0, or both 0)", i+1, a, b)
		}
	}
	if len(loads) == 1 && len(ons) == 1 && len(offs) == 1 {
		return nil, loads[0], [2]time.Duration{ons[0], offs[0]}, nil
	}
	for i := 0; i < n; i++ {
		nb = append(nb, simulate.Neighbour{Load: loads[pick(len(loads), i)], On: ons[pick(len(ons), i)], Off: offs[pick(len(offs), i)]})
	}
	return nb, loads[0], [2]time.Duration{ons[0], offs[0]}, nil
}

// writeTruth writes the ground truth of a simulation to path as indented
// JSON.
func writeTruth(path string, tr *simulate.Truth) error {
	return writeFileWith(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		if err := enc.Encode(tr); err != nil {
			return fmt.Errorf("writing truth: %w", err)
		}
		return nil
	})
}
