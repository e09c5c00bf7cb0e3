package gaps

import (
	"math/bits"
	"time"
)

// Durations are binned on a log scale: bin 0 holds everything below
// 2^minExp ns (~1 µs); above that each octave is split into 2^sub
// linear sub-bins, up to 2^maxExp ns (~275 s, the last bin holds the rest).
// Bin boundaries are exact integers, so a threshold chosen on a boundary
// classifies every recorded duration exactly as the per-window test does.
const (
	minExp = 10
	maxExp = 38

	gapSub = 3 // 1/8 octave (~9 %): gap histograms
	latSub = 4 // 1/16 octave (~4.4 %): latency quantiles

	nbGap = 1 + (maxExp-minExp)<<gapSub
	nbLat = 1 + (maxExp-minExp)<<latSub
)

// binOf returns the bin of d for sub-bin bits sub.
func binOf(d int64, sub uint) int {
	if d < 1<<minExp {
		return 0
	}
	e := bits.Len64(uint64(d)) - 1
	b := (e-minExp)<<sub + int((uint64(d)>>(uint(e)-sub))&(1<<sub-1)) + 1
	if n := 1 + (maxExp-minExp)<<sub; b >= n {
		b = n - 1
	}
	return b
}

// binLow is the smallest duration in bin b.
func binLow(b int, sub uint) int64 {
	if b <= 0 {
		return 0
	}
	b--
	e := uint(b>>sub) + minExp
	m := int64(b & (1<<sub - 1))
	return (1<<sub + m) << (e - sub)
}

// gapHist is a histogram of durations with per-bin sums and sums of
// squares (for means and length-biased means below a threshold).
type gapHist struct {
	n     uint64
	count [nbGap]uint64
	sum   [nbGap]float64
	sum2  [nbGap]float64
}

func (h *gapHist) add(d int64) {
	b := binOf(d, gapSub)
	h.n++
	h.count[b]++
	f := float64(d)
	h.sum[b] += f
	h.sum2[b] += f * f
}

// remove takes back one add(d).
func (h *gapHist) remove(d int64) {
	b := binOf(d, gapSub)
	if h.count[b] == 0 {
		return
	}
	h.n--
	h.count[b]--
	f := float64(d)
	h.sum[b] = max(h.sum[b]-f, 0)
	h.sum2[b] = max(h.sum2[b]-f*f, 0)
}

// quantileBin returns the bin holding the q-quantile.
func (h *gapHist) quantileBin(q float64) int {
	if h.n == 0 {
		return 0
	}
	want := uint64(q * float64(h.n))
	var c uint64
	for b, n := range h.count {
		c += n
		if c > want {
			return b
		}
	}
	return nbGap - 1
}

// below sums bins [0, b).
func (h *gapHist) below(b int) (n uint64, sum, sum2 float64) {
	for i := 0; i < b && i < nbGap; i++ {
		n += h.count[i]
		sum += h.sum[i]
		sum2 += h.sum2[i]
	}
	return
}

// from sums bins [b, nbGap).
func (h *gapHist) from(b int) (n uint64, sum float64) {
	for i := max(b, 0); i < nbGap; i++ {
		n += h.count[i]
		sum += h.sum[i]
	}
	return
}

// latHist is a bounded-memory latency histogram for quantiles (~4 %
// resolution, linear interpolation inside a bin).
type latHist struct {
	n     uint64
	count [nbLat]uint64
}

func (h *latHist) add(d int64) {
	if d < 0 {
		d = 0
	}
	h.n++
	h.count[binOf(d, latSub)]++
}

func (h *latHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	want := q * float64(h.n)
	var c float64
	for b, n := range h.count {
		if n == 0 {
			continue
		}
		if c+float64(n) >= want {
			lo, hi := binLow(b, latSub), binLow(b+1, latSub)
			if b == nbLat-1 {
				hi = lo
			}
			frac := (want - c) / float64(n)
			return time.Duration(float64(lo) + frac*float64(hi-lo))
		}
		c += float64(n)
	}
	return time.Duration(binLow(nbLat-1, latSub))
}

// fifo is a growable ring buffer; it does not allocate in steady state.
type fifo[T any] struct {
	buf        []T // len is 0 or a power of two: indexes wrap with a mask
	head, size int
}

func (f *fifo[T]) push(v T) {
	if f.size == len(f.buf) {
		n := max(2*len(f.buf), 64)
		nb := make([]T, n)
		for i := 0; i < f.size; i++ {
			nb[i] = *f.at(i)
		}
		f.buf, f.head = nb, 0
	}
	f.buf[(f.head+f.size)&(len(f.buf)-1)] = v
	f.size++
}

func (f *fifo[T]) front() *T { return &f.buf[f.head] }

func (f *fifo[T]) pop() {
	var zero T
	f.buf[f.head] = zero
	f.head = (f.head + 1) & (len(f.buf) - 1)
	f.size--
}

// dropBack removes the element at the back.
func (f *fifo[T]) dropBack() {
	var zero T
	f.size--
	f.buf[(f.head+f.size)&(len(f.buf)-1)] = zero
}

// at returns the i-th element from the front.
func (f *fifo[T]) at(i int) *T { return &f.buf[(f.head+i)&(len(f.buf)-1)] }
