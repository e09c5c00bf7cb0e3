package ebpfsrc

import (
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
)

func cpuNow() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// firePaced fires n ioctls at about rate per second, in bursts every 10 ms
// with the thread asleep in between (spinning would count as CPU time).
func firePaced(n int, rate int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const tick = 10 * time.Millisecond
	burst := max(1, rate/100)
	next := time.Now()
	for i := 0; i < n; {
		for j := 0; j < burst && i < n; j++ {
			cmd := uint64(cmdRun)
			if i&1 == 1 {
				cmd = cmdDone
			}
			fire(cmd, uint64(0x1000+i>>1))
			i++
		}
		next = next.Add(tick)
		time.Sleep(time.Until(next))
	}
}

// BenchmarkEBPF measures the process CPU time (user+system, getrusage) per
// event at about 100k events/s: the ioctls fired, the BPF program run in
// their context, and the ring-buffer reading and decoding. The same
// pattern without the source attached, in the same run, is the reference:
// "overhead-cpu-ns/event" is the difference, "cpu-ratio" the ratio.
//
// The "kernel" sub-benchmark fires 20000 events (they fit the ring buffer)
// and reads them only after measuring: the cost of the program in the
// ioctl's context alone. "total" reads concurrently: program plus reader.
func BenchmarkEBPF(b *testing.B) {
	if os.Geteuid() != 0 {
		livetest.Skip(b, "loading BPF needs root")
	}
	openEBPF := func(b *testing.B) benchSrc { return openIoctl(b) }
	b.Run("kernel/rate=100k", func(b *testing.B) { benchSource(b, 20000, 100_000, false, openEBPF) })
	for _, r := range rates {
		b.Run("total/rate="+r.name, func(b *testing.B) { benchSource(b, max(b.N, 20000), r.rate, true, openEBPF) })
	}
}

var rates = []struct {
	name string
	rate int
}{{"10k", 10_000}, {"100k", 100_000}, {"500k", 500_000}}

// BenchmarkTracefs is BenchmarkEBPF's "total" for the tracefs source on the
// same tracepoint and mapping, so the two read side by side in one run:
// go test -run XXX -bench 'EBPF/total|Tracefs' ./internal/ebpfsrc/
func BenchmarkTracefs(b *testing.B) {
	if os.Geteuid() != 0 {
		livetest.Skip(b, "reading tracefs needs root")
	}
	livetest.Lock(b)
	open := func(b *testing.B) benchSrc {
		l, err := tracefs.Open(tracefs.Options{Root: tracefsRoot(b), BufferKB: 8192, Mappings: tracefsIoctlMappings(ringlessRun, ringlessDone)})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	for _, r := range rates {
		b.Run("total/rate="+r.name, func(b *testing.B) { benchSource(b, max(b.N, 20000), r.rate, true, open) })
	}
}

type benchSrc interface {
	Next() (event.Event, error)
	Close() error
}

func benchSource(b *testing.B, n, rate int, concurrent bool, open func(*testing.B) benchSrc) {
	c0 := cpuNow()
	firePaced(n, rate)
	base := cpuNow() - c0

	s := open(b)
	defer s.Close()
	got := make(chan int, 1)
	start := make(chan struct{})
	if concurrent {
		close(start)
	}
	go func() {
		<-start
		k := 0
		for k < n {
			if _, err := s.Next(); err != nil {
				break
			}
			k++
		}
		got <- k
	}()
	b.ResetTimer()
	c0 = cpuNow()
	t0 := time.Now()
	firePaced(n, rate)
	fireWall := time.Since(t0)
	with := cpuNow() - c0
	if !concurrent {
		close(start)
	}
	var k int
	select {
	case k = <-got:
	case <-time.After(10 * time.Second):
		s.Close()
		k = <-got
	}
	if concurrent {
		with = cpuNow() - c0
	}
	b.StopTimer()
	if k != n {
		b.Fatalf("read %d of %d events", k, n)
	}
	per := float64(with.Nanoseconds()) / float64(n)
	basePer := float64(base.Nanoseconds()) / float64(n)
	b.ReportMetric(float64(n)/fireWall.Seconds(), "events/s")
	b.ReportMetric(per, "cpu-ns/event")
	b.ReportMetric(basePer, "baseline-cpu-ns/event")
	b.ReportMetric(per-basePer, "overhead-cpu-ns/event")
	b.ReportMetric(per/basePer, "cpu-ratio")
}
