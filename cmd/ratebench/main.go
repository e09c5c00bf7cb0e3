// Command ratebench measures what reading the GPU scheduler's trace events
// costs gpuwatch: it fires real kernel trace events (uprobe events named and
// shaped like gpu_scheduler's, see internal/tracefs/livetest) at target
// rates, reads them through a live source, and prints for each rate the
// rate reached, events read and lost, and the reader's CPU time per event
// (getrusage of this process: the firing programs are separate processes).
//
//	sudo ratebench [-rates 10000,100000,500000] [-duration 3s] [-procs 2] [-engine]
//
// A rate of 0 fires as fast as the firing programs can. Sources are run
// one after the other in one run; the eBPF source joins through ebpfHook.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/machine"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// source opens one live source on the harness's events.
type source struct {
	name string
	open func(h *livetest.Harness) (event.Source, func() error, error)
}

// ebpfHook, when set (by the eBPF source's engineer, in a file of this
// package), adds the eBPF source to the comparison.
var ebpfHook func(tracefsRoot string) (event.Source, func() error, error)

func main() {
	code := 0
	defer func() { os.Exit(code) }()
	rates := flag.String("rates", "10000,100000,500000,0", "comma-separated target rates in events/s (0: as fast as possible)")
	dur := flag.Duration("duration", 3*time.Second, "how long to fire at each rate")
	procs := flag.Int("procs", 2, "firing processes (the rate is split among them)")
	engine := flag.Bool("engine", false, "also feed the events to the engine (the whole watch pipeline)")
	bufKB := flag.Int("buffer-kb", 4096, "per-CPU ring buffer of the tracefs instance, KiB")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to `FILE`")
	markdown := flag.Bool("markdown", false, "print a Markdown table (for docs/benchmarks.md), stamped with the machine and commit")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ratebench:", err)
			os.Exit(2)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if err := run(os.Stdout, *rates, *dur, *procs, *engine, *bufKB, *markdown); err != nil {
		fmt.Fprintln(os.Stderr, "ratebench:", err)
		code = 2
	}
}

type result struct {
	source            string
	target            int
	fired, read, lost uint64
	fire, wall, cpu   time.Duration
}

func run(w io.Writer, ratesFlag string, dur time.Duration, procs int, engine bool, bufKB int, markdown bool) error {
	var rates []int
	for _, s := range strings.Split(ratesFlag, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || r < 0 {
			return fmt.Errorf("bad rate %q", s)
		}
		rates = append(rates, r)
	}
	if procs < 1 {
		procs = 1
	}
	root, err := livetest.FindRoot()
	if err != nil {
		return err
	}
	unlock, err := livetest.LockFile()
	if err != nil {
		return fmt.Errorf("locking %s: %w", livetest.LockPath, err)
	}
	defer unlock()
	dir, err := os.MkdirTemp("", "ratebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := livetest.BuildProgram(dir)
	if err != nil {
		return err
	}
	h, err := livetest.Create(root, bin, tracepoint.GenDRM)
	if err != nil {
		return err
	}
	defer h.Remove()

	sources := []source{{"tracefs", func(h *livetest.Harness) (event.Source, func() error, error) {
		l, err := tracefs.Open(tracefs.Options{Root: h.Root, Events: h.Events, BufferKB: bufKB})
		if err != nil {
			return nil, nil, err
		}
		return l, l.Close, nil
	}}}
	if ebpfHook != nil {
		sources = append(sources, source{"ebpf", func(h *livetest.Harness) (event.Source, func() error, error) { return ebpfHook(h.Root) }})
	} else if !markdown {
		fmt.Fprintln(w, "# eBPF source: not hooked into ratebench (ebpfHook is nil)")
	}

	var results []result
	for _, rate := range rates {
		for _, s := range sources {
			r, err := measure(h, s, rate, dur, procs, engine)
			if err != nil {
				return fmt.Errorf("%s at %d/s: %w", s.name, rate, err)
			}
			results = append(results, r)
		}
	}
	head := []string{"source", "target/s", "fired/s", "read", "lost", "lost %", "CPU %", "CPU ns/event"}
	rows := make([][]string, 0, len(results))
	for _, r := range results {
		target := strconv.Itoa(r.target)
		if r.target == 0 {
			target = "max"
		}
		rows = append(rows, []string{r.source, target, fmt.Sprintf("%.0f", float64(r.fired)/r.fire.Seconds()),
			strconv.FormatUint(r.read, 10), strconv.FormatUint(r.lost, 10),
			fmt.Sprintf("%.2f", 100*float64(r.lost)/float64(max(r.fired, 1))),
			fmt.Sprintf("%.1f", 100*r.cpu.Seconds()/r.wall.Seconds()),
			fmt.Sprintf("%.0f", float64(r.cpu.Nanoseconds())/float64(max(r.read, 1)))})
	}
	if markdown {
		fmt.Fprintf(w, "## Live: reading real trace events\n\nThe reader's CPU per event at each rate of real kernel trace events (uprobe events shaped like gpu_scheduler's), through a tracefs instance, and the events lost.\n\n")
		fmt.Fprintf(w, "_Measured by `ratebench %s` on %s._\n\n", strings.Join(os.Args[1:], " "), machine.Read())
		fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
		fmt.Fprintln(w, "|"+strings.Repeat("---|", len(head)))
		for _, r := range rows {
			fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	return tw.Flush()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func measure(h *livetest.Harness, s source, rate int, dur time.Duration, procs int, engine bool) (result, error) {
	res := result{source: s.name, target: rate, fire: dur}
	src, closeFn, err := s.open(h)
	if err != nil {
		return res, err
	}
	var read, lost uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var eng *gaps.Engine
	if engine {
		eng = gaps.New(gaps.Config{Horizon: 10 * time.Second})
	}
	go func() {
		defer close(done)
		for {
			ev, err := src.Next()
			if err != nil {
				return
			}
			mu.Lock()
			if ev.Kind == event.KindLost {
				lost += ev.Count
			} else {
				read++
			}
			mu.Unlock()
			if eng != nil {
				eng.Feed(ev)
			}
		}
	}()
	cpu0, wall0 := cpuTime(), time.Now()
	var wg sync.WaitGroup
	var fired uint64
	var ferr error
	for i := 0; i < procs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := h.RunLoad(context.Background(), dur, rate/procs)
			mu.Lock()
			fired += n
			ferr = errors.Join(ferr, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Let the reader catch up: stop once it makes no progress for 300 ms.
	last, idle := uint64(0), 0
	for idle < 12 {
		time.Sleep(25 * time.Millisecond)
		mu.Lock()
		cur := read + lost
		mu.Unlock()
		if cur != last {
			last, idle = cur, 0
		} else {
			idle++
		}
		if cur >= fired {
			break
		}
	}
	res.wall, res.cpu = time.Since(wall0), cpuTime()-cpu0
	err = closeFn()
	<-done
	res.fired, res.read, res.lost = fired, read, lost
	return res, errors.Join(ferr, err)
}
