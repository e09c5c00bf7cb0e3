package reporttext

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// The parallel text reader. Once the input is recognised as report text,
// n workers take turns to cut the next block of whole lines from the input
// (nextBlock), parse their blocks into events, and Next hands the events
// out in input order.
// The result is the sequential reader's, event for event, warning for
// warning (TestParallelMatchesSequential, FuzzParallelMatchesSequential):
// the little state a line depends on is carried between blocks by Next
// (under Drain, by the worker whose turn it is; see below):
//
//   - line numbers: a worker numbers a block's lines from 1; Next adds the
//     lines before the block to its warnings;
//   - the time of the last event, which "[LOST N EVENTS]" markers carry:
//     markers before a block's first event get it from Next;
//   - the unit of bare-integer times (that of the last dotted time): a
//     block that read one before any dotted time is parsed again, by Next,
//     in the rare case the unit it assumed (µs) was wrong.
//
// Under Drain, Next's part is done by the workers themselves, in turn: the
// worker that parsed a block waits for the block before it to be done,
// then merges its block and hands the events to Drain's function, while
// they are still in its CPU's cache. Handed to another goroutine, every
// event crosses to another CPU's cache, and a reused slice crosses back:
// at 1 GB of text that cost about half the CPU time of the engine's own
// work.

// maxTextWorkers bounds the parsing goroutines. The consumer takes the
// blocks' events one block at a time (gpuwatch's engine, ~45 ns a line),
// while a worker parses a line in ~80-100 ns: past three or four workers
// the others only wait for their turn, each holding a block and its
// events (~1 MB). So the peak RSS stays flat on a machine of many CPUs
// too. (Worked out from the per-line costs measured on a 2-CPU machine.)
const maxTextWorkers = 4

// lineBlockSize is the size of a block of lines.
const lineBlockSize = 512 << 10

type lineBlock struct {
	buf  []byte            // whole lines; the last may lack its '\n' when last is set
	last bool              // the input ends with this block
	err  error             // a read error after buf (last is set)
	res  chan *blockResult // nil under Drain
	seq  int               // the block's place in the input, from 0
}

type blockResult struct {
	evs      []event.Event
	stats    Stats     // what the block adds; CPUs/Version -1 when unset
	warns    []Warning // Line counts from the block's first line (1)
	leadLost int       // LOST markers before the block's first event
	lastTime int64     // of the last event, valid when evs has one not lost
	hasTime  bool
	fracDep  bool // a bare-integer time came before any dotted time
	fracEnd  int  // unit of the last dotted time, 0 if none
}

type blockPipeline struct {
	order   chan *lineBlock
	done    chan struct{}
	freeBuf chan []byte
	freeEvs chan []event.Event
	maxEvs  atomic.Int64 // the most events a block has yielded

	cur  []event.Event
	next int

	// The input between blocks: the workers cut the blocks themselves,
	// in turn (nextBlock), so that a block's bytes are copied into the
	// cache of the CPU that parses them.
	inMu    sync.Mutex
	inSeq   int    // of the next block
	inCarry []byte // the start of its first line
	inEnd   bool   // no more blocks: the input ended or failed, or done was closed

	// Under Drain (drain set): the block whose turn it is, and whether
	// the pipeline stopped (after the last block, or a read error);
	// drained is closed then.
	drain   func([]event.Event)
	mu      sync.Mutex
	turnCh  sync.Cond // signalled when turn or stopped changes
	turn    int
	stopped bool
	drained chan struct{}
}

// Parallel makes the reader parse with n goroutines (n > 1; at most
// maxTextWorkers) once the input is recognised as report text. Call it
// before the first Next, and Close the reader when done with it before its
// end.
func (t *Reader) Parallel(n int) {
	t.workers = min(n, maxTextWorkers)
	if t.blockSize == 0 {
		t.blockSize = lineBlockSize
	}
}

// Close tells the goroutines of a parallel reader to stop: each returns
// once done with the block and the read it may be in. It does not close
// the underlying reader. Not to be called during Drain (which cannot be
// cut short): Close is for after it.
func (t *Reader) Close() error {
	if p := t.par; p != nil && p.done != nil {
		close(p.done)
		p.done = nil
	}
	if t.err == nil {
		t.err = fmt.Errorf("%s: reader closed", t.name)
	}
	return nil
}

func (t *Reader) startPipeline() {
	n := t.workers
	// Blocks are read as workers take them: each block read further
	// ahead is one more buffer of fresh memory, and reading is many
	// times faster than parsing. For Next, up to depth blocks wait in
	// order (one more with the worker that waits to queue it); under
	// Drain, each worker holds one block.
	depth := n + 2
	p := &blockPipeline{
		order:   make(chan *lineBlock, depth),
		done:    make(chan struct{}),
		freeBuf: make(chan []byte, depth+n+2),
		freeEvs: make(chan []event.Event, depth+n+2),
		drain:   t.drain,
	}
	if p.drain != nil {
		p.order = nil // the workers hand out the events
		p.turnCh.L = &p.mu
		p.drained = make(chan struct{})
	}
	t.par = p
	for range n {
		go func(done <-chan struct{}) {
			w := newTextWorker(t.name)
			for {
				blk := t.nextBlock(done)
				if blk == nil {
					return
				}
				res := w.parseBlock(blk, 0, p.getEvs(blk.buf))
				for n, m := int64(len(res.evs)), p.maxEvs.Load(); n > m && !p.maxEvs.CompareAndSwap(m, n); m = p.maxEvs.Load() {
				}
				if !res.fracDep {
					p.putBuf(blk.buf)
					blk.buf = nil
				}
				if p.drain != nil {
					t.drainBlock(w, blk, res)
					continue
				}
				blk.res <- res
			}
		}(p.done)
	}
}

func (p *blockPipeline) getBuf(n int) []byte {
	select {
	case b := <-p.freeBuf:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, n)
}

func (p *blockPipeline) putBuf(b []byte) {
	select {
	case p.freeBuf <- b:
	default:
	}
}

// getEvs returns an empty event slice with room for the events of blk:
// growing one block's slice by doubling would copy it, and touch fresh
// memory, again and again. A slice is made for a quarter more events than
// the largest block so far had (before any block is done, than blk has
// lines), and one handed back is reused while it has room for an eighth
// more.
func (p *blockPipeline) getEvs(blk []byte) []event.Event {
	most := int(p.maxEvs.Load())
	if most == 0 {
		most = bytes.Count(blk, []byte{'\n'}) + 1
	}
	select {
	case e := <-p.freeEvs:
		if cap(e) >= most+most/8 {
			return e[:0]
		}
	default:
	}
	return make([]event.Event, 0, most+most/4)
}

func (p *blockPipeline) putEvs(e []event.Event) {
	if cap(e) == 0 {
		return
	}
	select {
	case p.freeEvs <- e:
	default:
	}
}

// nextBlock cuts the next block of whole lines from the input for a
// worker; nil once the input has ended or failed, or done is closed. For
// Next, it queues the block in order before it lets the next worker read.
func (t *Reader) nextBlock(done <-chan struct{}) *lineBlock {
	p := t.par
	p.inMu.Lock()
	defer p.inMu.Unlock()
	if p.inEnd {
		return nil
	}
	select {
	case <-done:
		p.endInput()
		return nil
	default:
	}
	buf := p.getBuf(t.blockSize)
	buf = append(buf, p.inCarry...)
	blk := &lineBlock{seq: p.inSeq}
	p.inSeq++
	buf, p.inCarry, blk.err = t.fill(buf)
	if blk.err != nil {
		blk.last = true
		if blk.err == io.EOF {
			blk.err = nil
		}
	}
	blk.buf = buf
	if p.order != nil {
		blk.res = make(chan *blockResult, 1)
		select {
		case p.order <- blk:
		case <-done:
			p.endInput()
			return nil
		}
	}
	if blk.last {
		p.endInput()
	}
	return blk
}

// endInput marks the input done (inMu held): Next learns it from order.
func (p *blockPipeline) endInput() {
	p.inEnd = true
	if p.order != nil {
		close(p.order)
	}
}

// fill reads into buf up to its capacity and returns the whole lines, the
// rest of the last line (to carry into the next block) and the read error
// (io.EOF at the end: then buf holds everything, carry is nil). A line
// longer than maxLine is cut there, as readLine cuts it.
func (t *Reader) fill(buf []byte) (lines, carry []byte, err error) {
	for {
		for len(buf) < cap(buf) && err == nil {
			var n int
			n, err = t.r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
		}
		if err == io.EOF {
			return buf, nil, err
		}
		i := bytes.LastIndexByte(buf, '\n')
		if err != nil {
			// As readLine: the part of a line before a read error is
			// not a line.
			return buf[:i+1], nil, err
		}
		if i >= 0 {
			return buf[:i+1], bytes.Clone(buf[i+1:]), nil
		}
		// One line fills the block: grow it up to maxLine.
		if len(buf) < maxLine {
			nb := make([]byte, len(buf), min(2*cap(buf), maxLine))
			copy(nb, buf)
			buf = nb
			continue
		}
		// Cut it there and skip to its end.
		for {
			_, e := t.r.ReadSlice('\n')
			if e == nil {
				return append(buf, '\n'), nil, nil
			}
			if e != bufio.ErrBufferFull {
				if e != io.EOF {
					return nil, nil, e
				}
				return buf, nil, e
			}
		}
	}
}

// NextBatch implements event.BatchSource: once the parallel reader runs,
// the rest of a block's events at once; else one event.
func (t *Reader) NextBatch() ([]event.Event, error) {
	if t.par == nil {
		// Before the pipeline runs (and in a sequential reader).
		ev, err := t.Next()
		if err != nil {
			return nil, err
		}
		t.one[0] = ev
		return t.one[:], nil
	}
	if err := t.fillParallel(); err != nil {
		return nil, err
	}
	p := t.par
	evs := p.cur[p.next:]
	p.next = len(p.cur)
	return evs, nil
}

// nextParallel is Next once the pipeline runs.
func (t *Reader) nextParallel() (event.Event, error) {
	if err := t.fillParallel(); err != nil {
		return event.Event{}, err
	}
	p := t.par
	ev := p.cur[p.next]
	p.next++
	return ev, nil
}

// fillParallel makes p.cur hold an event not handed out yet, or returns
// the reader's error (io.EOF at the end).
func (t *Reader) fillParallel() error {
	p := t.par
	if p.drain != nil {
		// The workers hand the events to Drain's function.
		<-p.drained
		p.release()
		return t.err
	}
	for p.next >= len(p.cur) {
		if t.err != nil {
			return t.err
		}
		p.putEvs(p.cur)
		p.cur, p.next = nil, 0
		blk, ok := <-p.order
		if !ok {
			t.err = io.EOF
			p.release()
			return io.EOF
		}
		p.cur = t.settle(nil, blk, <-blk.res).evs
	}
	return nil
}

// settle is the in-order part of a block's handling, Next's (w nil) or,
// under Drain, that of the worker w whose turn it is: a block that
// assumed µs for a bare-integer time while the unit in force is ns is
// parsed again knowing that, its result is merged, and the block's read
// error or the input's end recorded. It returns the result to hand out.
func (t *Reader) settle(w *Reader, blk *lineBlock, res *blockResult) *blockResult {
	if res.fracDep && t.fracDigits != 6 {
		if w == nil {
			w = newTextWorker(t.name)
		}
		res = w.parseBlock(blk, t.fracDigits, res.evs[:0])
	}
	t.merge(res)
	if blk.err != nil {
		t.err = fmt.Errorf("reading %s: %w", t.name, blk.err)
	} else if blk.last {
		t.eof = true
	}
	return res
}

// Drain implements event.Drainer: it hands the reader's events to fn, a
// batch at a time, in order, as a loop over NextBatch would. Once the
// parallel reader runs, fn is called by the goroutine that parsed the
// batch, in turn: never two calls at once, and each call happens after
// the one before it returned (in the memory model's sense), with a lock
// held. So fn must not call the reader, nor end its goroutine
// (runtime.Goexit, t.FailNow): Drain would wait forever; a panic in fn
// ends the program, as on any goroutine but Drain's caller's. Stats, Warnings and Close are for after
// Drain returns. It returns nil at the end of the input, else the error
// Next would.
func (t *Reader) Drain(fn func([]event.Event)) error {
	if t.par == nil {
		t.drain = fn // for the pipeline, should it start
		defer func() { t.drain = nil }()
	}
	for {
		evs, err := t.NextBatch()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fn(evs)
	}
}

// drainBlock is fillParallel's part for blk under Drain, on the worker w
// that parsed it: once the block before it is done, it merges res, hands
// its events to the drain function and passes the turn on.
func (t *Reader) drainBlock(w *Reader, blk *lineBlock, res *blockResult) {
	p := t.par
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.turn != blk.seq && !p.stopped {
		p.turnCh.Wait()
	}
	if p.stopped {
		return
	}
	res = t.settle(w, blk, res)
	if blk.buf != nil { // kept for settle's second parse
		p.putBuf(blk.buf)
		blk.buf = nil
	}
	if len(res.evs) > 0 {
		p.drain(res.evs)
	}
	p.putEvs(res.evs)
	if !blk.last {
		p.turn++
		p.turnCh.Broadcast()
		return
	}
	// The last block, or a read error (which ends the blocks too):
	// workers waiting for a turn give up, and fillParallel returns t.err.
	if t.err == nil {
		t.err = io.EOF
	}
	p.stopped = true
	p.turnCh.Broadcast()
	close(p.drained)
}

// merge adds a block's result to the reader's state.
func (t *Reader) merge(res *blockResult) {
	for i := 0; i < res.leadLost; i++ {
		res.evs[i].Time = t.lastTime
	}
	if res.hasTime {
		t.lastTime = res.lastTime
	}
	if res.fracEnd != 0 {
		t.fracDigits = res.fracEnd
	}
	for _, w := range res.warns {
		if len(t.warns) >= maxWarnings {
			break
		}
		w.Line += t.line
		t.warns = append(t.warns, w)
	}
	s := &res.stats
	t.line += s.Lines
	t.stats.Lines += s.Lines
	t.stats.Events += s.Events
	t.stats.Unknown += s.Unknown
	t.stats.Malformed += s.Malformed
	t.stats.Lost = event.AddCount(t.stats.Lost, s.Lost)
	for k, v := range s.UnknownByName {
		t.stats.UnknownByName[k] += v
	}
	if s.CPUs >= 0 {
		t.stats.CPUs = s.CPUs
	}
	if s.Version >= 0 {
		t.stats.Version = s.Version
	}
}

// newTextWorker is a Reader used only to parse blocks.
func newTextWorker(name string) *Reader {
	return &Reader{
		name:   name,
		recog:  true,
		intern: make(map[string]string),
	}
}

// parseBlock parses blk's lines. frac is the unit of bare-integer times in
// force before the block, 0 if unknown (then 6 is assumed and fracDep
// tells whether that mattered).
func (w *Reader) parseBlock(blk *lineBlock, frac int, evs []event.Event) *blockResult {
	res := &blockResult{}
	w.line, w.eof = 0, false
	w.fracDigits, w.fracDep = frac, false
	w.lastTime = 0
	w.warns = nil
	w.stats = Stats{UnknownByName: map[string]int{}, CPUs: -1, Version: -1}
	data := blk.buf
	sawTime := false
	for len(data) > 0 {
		// The slot is written whole by parseLine when it yields an event
		// (a reused slice's stale slot is not cleared first).
		if len(evs) < cap(evs) {
			evs = evs[:len(evs)+1]
		} else {
			evs = append(evs, event.Event{})
		}
		ev := &evs[len(evs)-1]
		// The common line is read with its end found on the way; any
		// other is cut at its '\n' and read by parseLine.
		var line []byte
		n := w.parseLineFast(data, ev)
		if n > 0 {
			data = data[n:]
		} else if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
			w.eof = blk.last
		}
		w.line++
		w.stats.Lines++
		if n == 0 && !w.parseLine(trimEOL(line), ev) {
			evs = evs[:len(evs)-1]
			continue
		}
		w.stats.Events++
		if ev.Kind == event.KindLost {
			if !sawTime {
				res.leadLost++
			}
		} else {
			sawTime = true
			res.lastTime, res.hasTime = ev.Time, true
		}
	}
	res.evs = evs
	res.stats = w.stats
	res.warns = w.warns
	res.fracDep = w.fracDep
	if w.fracDigits != frac {
		res.fracEnd = w.fracDigits
	}
	return res
}

// release drops the pipeline's buffers once the input is read: the
// analysis that follows can reuse their memory after the next collection
// instead of touching fresh pages.
func (p *blockPipeline) release() {
	p.cur = nil
	for {
		select {
		case <-p.freeBuf:
		case <-p.freeEvs:
		default:
			return
		}
	}
}
