package reporttext

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"golang.org/x/tools/txtar"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// drainAll drains r and returns everything a caller can observe.
type drainResult struct {
	Events   []event.Event
	Err      string
	Stats    Stats
	Warnings []Warning
}

func drainAll(r *Reader) drainResult { return drainBy(r, readByNext) }

// readBy is a way to read a Reader's events.
type readBy int

const (
	readByNext  readBy = iota
	readByBatch        // NextBatch
	readByDrain        // Drain (event.DrainBatches' way)
	readByCount
)

func (b readBy) String() string { return [...]string{"Next", "NextBatch", "Drain"}[b] }

// drainBy drains r the way by says.
func drainBy(r *Reader, by readBy) drainResult {
	var res drainResult
	if by == readByDrain {
		// Drain may call fn on the workers: one call at a time, each
		// after the one before (the race detector sees the appends).
		var inside atomic.Bool
		err := r.Drain(func(evs []event.Event) {
			if !inside.CompareAndSwap(false, true) {
				res.Err = "two calls of Drain's fn at once"
			}
			if len(evs) == 0 && res.Err == "" {
				res.Err = "Drain handed out no events"
			}
			res.Events = append(res.Events, evs...)
			inside.Store(false)
		})
		if err != nil && res.Err == "" {
			res.Err = err.Error()
		}
		if _, err := r.Next(); err != io.EOF && res.Err == "" {
			res.Err = fmt.Sprintf("Next after Drain: %v, want EOF", err)
		}
		r.Close()
		res.Stats = r.Stats()
		res.Warnings = r.Warnings()
		return res
	}
	for {
		var evs []event.Event
		var err error
		if by == readByBatch {
			evs, err = r.NextBatch()
			if err == nil && len(evs) == 0 {
				res.Err = "NextBatch returned no events and no error"
				break
			}
		} else {
			var ev event.Event
			ev, err = r.Next()
			evs = []event.Event{ev}
		}
		if err != nil {
			if err != io.EOF {
				res.Err = err.Error()
			}
			break
		}
		res.Events = append(res.Events, evs...)
	}
	r.Close()
	res.Stats = r.Stats()
	res.Warnings = r.Warnings()
	return res
}

func compare(t *testing.T, what string, seq, par drainResult) {
	t.Helper()
	if seq.Err != par.Err {
		t.Errorf("%s: error %q, sequential %q", what, par.Err, seq.Err)
	}
	if len(seq.Events) != len(par.Events) {
		t.Errorf("%s: %d events, sequential %d", what, len(par.Events), len(seq.Events))
	}
	for i := range min(len(seq.Events), len(par.Events)) {
		if seq.Events[i] != par.Events[i] {
			t.Errorf("%s: event %d\n  %+v\nsequential\n  %+v", what, i, par.Events[i], seq.Events[i])
			break
		}
	}
	if !reflect.DeepEqual(seq.Stats, par.Stats) {
		t.Errorf("%s: stats %+v\nsequential %+v", what, par.Stats, seq.Stats)
	}
	if !reflect.DeepEqual(seq.Warnings, par.Warnings) {
		t.Errorf("%s: warnings %v\nsequential %v", what, par.Warnings, seq.Warnings)
	}
}

// parallelInputs are texts that exercise every piece of state a line
// depends on across block boundaries.
func parallelInputs(t *testing.T) map[string][]byte {
	in := map[string][]byte{}
	files, _ := filepath.Glob("testdata/report/*.txtar")
	for _, f := range files {
		ar, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, fl := range ar.Files {
			if fl.Name == "input" {
				in[filepath.Base(f)] = fl.Data
			}
		}
	}
	if len(in) == 0 {
		t.Fatal("no golden inputs")
	}
	var b bytes.Buffer
	b.WriteString("cpus=2\n")
	for _, s := range fuzzSeeds {
		b.WriteString(s + "\n")
	}
	in["fuzz-seeds"] = bytes.Clone(b.Bytes())
	// LOST markers first in blocks, ns times then bare integers (the unit
	// of the last dotted time), CRLF, a line over maxLine, a
	// truncated last line, warnings.
	b.Reset()
	b.WriteString("version = 6\ncpus=2\n")
	b.WriteString("           <...>-0     [000]          500: drm_sched_job_wait_dep: job ring=sdma0, id=0, depends fence=0xffff801400000200, context=5, seq=8\n")
	for i := range 300 {
		b.WriteString("CPU:1 [LOST 7 EVENTS]\n")
		b.WriteString("          <idle>-0     [000]  1437.803888123: drm_sched_process_job: fence=0xffff9a3b4000f600 signaled\r\n")
		b.WriteString("           <...>-0     [000]          501: drm_sched_job_wait_dep: job ring=sdma0, id=0, depends fence=0xffff801400000200, context=5, seq=8\n")
		b.WriteString("           sdma0-301   [001]  1437.000008: drm_run_job: entity=0xffff88812c4a2000, id=246, fence=0xffff9a3b4000f780, ring=sdma0, job count:0, hw job count:1\n")
		b.WriteString("           <...>-0     [000]          502: drm_sched_job_wait_dep: job ring=sdma0, id=0, depends fence=0xffff801400000200, context=5, seq=8\n")
		b.WriteString("           sdma0-301   [001]  1437.000009: drm_run_job: garbage\n")
		b.WriteString("           sdma0-301   [001]  1437.000010: sched_switch: prev_comm=x\n")
		b.WriteString("cpus=4\n\n  \n")
		if i == 150 {
			b.WriteString("           sdma0-301   [001]  1437.000011: drm_run_job: " + strings.Repeat("x", maxLine+5000) + "\n")
			b.WriteString(strings.Repeat("y", 2*maxLine) + "\n")
		}
	}
	b.WriteString("          <idle>-0     [000]  1437.803888: drm_sched_process_job: fence=0xffff9a3b40")
	in["state"] = bytes.Clone(b.Bytes())
	return in
}

// TestParallelMatchesSequential checks that the parallel reader returns
// what the sequential one does, whatever the block size.
func TestParallelMatchesSequential(t *testing.T) {
	for name, data := range parallelInputs(t) {
		seq := drainAll(NewReader(bytes.NewReader(data), name))
		for by := readByBatch; by < readByCount; by++ {
			compare(t, name+" (sequential, "+by.String()+")", seq, drainBy(NewReader(bytes.NewReader(data), name), by))
		}
		for _, bs := range []int{1, 100, 4096, lineBlockSize} {
			for _, workers := range []int{2, 3} {
				for by := range readByCount {
					r := NewReader(bytes.NewReader(data), name)
					r.Parallel(workers)
					r.blockSize = bs
					compare(t, fmt.Sprintf("%s (%d workers, blocks of %d, %v)", name, workers, bs, by), seq, drainBy(r, by))
					if r.par == nil && len(seq.Events) > 0 {
						t.Errorf("%s: the pipeline never started", name)
					}
				}
			}
		}
	}
}

// TestParallelReadError: a read error ends the parallel reader as it ends
// the sequential one, after the lines before it.
func TestParallelReadError(t *testing.T) {
	data := parallelInputs(t)["fuzz-seeds"]
	errBoom := errors.New("boom")
	mk := func() io.Reader {
		return io.MultiReader(iotest.HalfReader(bytes.NewReader(data)), bytes.NewReader([]byte("partial line")), iotest.ErrReader(errBoom))
	}
	seq := drainAll(NewReader(mk(), "x"))
	if !strings.Contains(seq.Err, "boom") {
		t.Fatalf("sequential error %q", seq.Err)
	}
	for _, bs := range []int{64, 1 << 20} {
		for by := range readByCount {
			r := NewReader(mk(), "x")
			r.Parallel(2)
			r.blockSize = bs
			compare(t, fmt.Sprintf("read error (blocks of %d, %v)", bs, by), seq, drainBy(r, by))
		}
	}
}

// TestParallelClose: Close before the end stops the goroutines and makes
// Next fail.
func TestParallelClose(t *testing.T) {
	data := bytes.Repeat(parallelInputs(t)["fuzz-seeds"], 200)
	r := NewReader(bytes.NewReader(data), "x")
	r.Parallel(2)
	r.blockSize = 4096
	for range 10 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	for range 100000 {
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				t.Fatalf("Next after Close: EOF, want an error")
			}
			return
		}
	}
	t.Fatal("Next after Close keeps returning events")
}

// FuzzParallelMatchesSequential cuts arbitrary text into small blocks.
func FuzzParallelMatchesSequential(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add("cpus=2\nCPU:0 [LOST 3 EVENTS]\n"+s+"\n"+s, uint8(7))
	}
	if b, err := os.ReadFile("testdata/report/latency_report.txtar"); err == nil {
		f.Add(string(b), uint8(200))
	}
	// Heads seen twice: the second line goes through parseLineFast.
	for _, s := range fastLines {
		f.Add("cpus=2\n"+s+"\n"+s+"\n"+s+" \r\n"+s, uint8(255))
	}
	f.Fuzz(func(t *testing.T, in string, bs uint8) {
		seq := drainAll(NewReader(strings.NewReader(in), "fuzz"))
		r := NewReader(strings.NewReader(in), "fuzz")
		r.Parallel(2)
		r.blockSize = int(bs) + 1
		compare(t, "fuzz", seq, drainBy(r, readBy(bs)%readByCount))
	})
}

// fastLines are event lines parseLineFast reads, and lines next to
// them it must leave to parseLine (each a variant of a line it reads).
var fastLines = []string{
	"           sdma0-301   [001]  1437.000008: drm_run_job:          entity=0xffff88812c4a2000, id=246, fence=0xffff9a3b4000f780, ring=sdma0, job count:0, hw job count:1",
	"          <idle>-0     [000]  1437.000003: drm_sched_process_job: fence=0xffff9a3b4000f600 signaled",
	"    kworker/u8:2-187   [001]  1437.000027: drm_sched_job:        entity=0xffff88812c4a2000, id=248, fence=0xffff9a3b4000f9c0, ring=sdma0, job count:1, hw job count:2",
	"           sdma0-301   [001]  1437.000030: drm_run_job: dev=0000:03:00.0, entity=0xffff88812c4a2000, id=246, fence=0xffff9a3b4000f780, ring=sdma0, job count:0, hw job count:1",
	"     vkcube:cs0-40211 [011] 18233.250104: drm_sched_job_queue:  dev=0000:03:00.0, fence=1873:4410, ring=gfx_0.0.0, job count:1, hw job count:0, client_id:23",
	"          <idle>-0     [000] 18233.251907: drm_sched_job_done:   fence=1873:4410 signaled",
	"    SkinningApp-2837  [003]   475.168802: amdgpu_cs_ioctl:      sched_job=185904, timeline=gfx, context=249, seqno=91446, ring_name=ffff94d7a00d4694, num_ibs=3",
	"    SkinningApp-2837  [003]   475.168803: amdgpu_cs_ioctl:      timeline=gfx, context=249, seqno=91446, ring_name=gfx, num_ibs=3",
	"          <idle>-0     [000]   475.169023: dma_fence_signaled:   driver=amd_sched timeline=gfx context=249 seqno=91446",
	"         glmark2-1766  [002]  1437.801120: amd_sched_job:        entity=0xffff8801f4a3c898, id=81234, fence=0xffff8800b2c4e540, ring=ffffffffc05b1d42, job count:1, hw job count:1",
	// One head, names that start alike.
	"           sdma0-301   [001]  1437.000031: drm_sched_job:        entity=0xffff88812c4a2000, id=249, fence=0xffff9a3b4000fa80, ring=sdma0, job count:1, hw job count:2",
	"           sdma0-301   [001]  1437.000032: drm_sched_job_queue:  dev=0000:03:00.0, fence=1873:4411, ring=sdma0, job count:1, hw job count:0, client_id:23",
	"           sdma0-301   [001]  1437.000033: drm_sched_job_done:   fence=1873:4411 signaled",
}

// fastVariant changes line the ways a line can differ from the ones
// parseLineFast reads: white space and '\r' at its end, cut short, a
// "(+diff)" column, 9-digit times, odd pointers and numbers, fields
// missing or empty, and the blanks parseLineFast remembers with heads and
// names: before the comm, after the time's ':' and after the name's ':'.
func fastVariant(rng *rand.Rand, line string) string {
	blanks := func() string { return []string{"", " ", "  ", "\t", " \t"}[rng.IntN(5)] }
	switch rng.IntN(15) {
	case 0:
		return line + []string{" ", "\t", "\r", " \r\t", "x", " signaled", ","}[rng.IntN(7)]
	case 1:
		return line[:rng.IntN(len(line)+1)]
	case 2:
		return strings.Replace(line, ": ", ": (+5) ", 1)
	case 3:
		return strings.Replace(line, ".0000", ".000000000", 1)
	case 4:
		return strings.Replace(line, "0xffff88812c4a2000", []string{"(nil)", "0xFFFF88812C4A2000", "0x1", "ffff88812c4a2000", "0xffff88812c4a2000f"}[rng.IntN(5)], 1)
	case 5:
		return strings.Replace(line, "ring=sdma0", []string{"ring=", "ring=sd,ma0", "ring=sdma0, ring=x"}[rng.IntN(3)], 1)
	case 6:
		return strings.Replace(line, "hw job count:", []string{"hw job count:-", "hw job count: ", "hw job count:99999999999999999999999"}[rng.IntN(3)], 1)
	case 7:
		return strings.Replace(line, "[00", "[0", 1)
	case 8:
		return strings.Replace(line, "job:", []string{"job", "job;", "job :"}[rng.IntN(3)], 1)
	case 9, 10:
		// More heads than lineHeads holds: entries are replaced.
		return strings.Replace(strings.Replace(line, "-0 ", fmt.Sprintf("-%d ", rng.IntN(30)), 1), "-301 ", fmt.Sprintf("-%d ", 300+rng.IntN(30)), 1)
	case 11:
		return blanks() + strings.TrimLeft(line, " ")[rng.IntN(2):]
	case 12:
		// After the time's ':'.
		i := strings.Index(line, ": ")
		if i < 0 {
			return line
		}
		return line[:i+1] + blanks() + line[i+2:]
	case 13:
		// After the name's ':', the blanks that align the bodies.
		i := strings.Index(line, ": ")
		j := strings.Index(line[i+2:], ":")
		if i < 0 || j < 0 {
			return line
		}
		k := i + 2 + j + 1
		return line[:k] + blanks() + strings.TrimLeft(line[k:], " ")
	}
	return line
}

// TestParseLineFastIsParseLine: the parallel reader, whose workers read
// lines through parseLineFast, returns what the sequential reader (which
// reads every line with parseLine) does, on random mixes of the lines
// parseLineFast reads and variants of them; and parseLineFast does take
// the plain lines once it has seen their heads.
func TestParseLineFastIsParseLine(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 40 {
		var b strings.Builder
		b.WriteString("cpus=2\n")
		for range 400 {
			line := fastLines[rng.IntN(len(fastLines))]
			if rng.IntN(3) == 0 {
				line = fastVariant(rng, line)
			}
			b.WriteString(line)
			b.WriteString([]string{"\n", "\n", "\n", "\r\n", "\n\n"}[rng.IntN(5)])
		}
		data := b.String()
		if round%2 == 1 {
			data = strings.TrimSuffix(data, "\n") // a last line without its end
		}
		seq := drainAll(NewReader(strings.NewReader(data), "x"))
		for _, bs := range []int{1 + rng.IntN(300), 4096, lineBlockSize} {
			r := NewReader(strings.NewReader(data), "x")
			r.Parallel(2)
			r.blockSize = bs
			compare(t, fmt.Sprintf("round %d, blocks of %d", round, bs), seq, drainAll(r))
		}
	}

	w := newTextWorker("x")
	for _, line := range fastLines {
		if strings.Contains(line, "vkcube") || strings.Contains(line, "timeline=gfx, context") {
			// Left to parseLine: a comm that starts like a header line
			// ("v" of "version = 6"), and a format after the first of its
			// name that parts from the first after a %s.
			continue
		}
		var want event.Event
		if !w.parseLine([]byte(line), &want) {
			t.Fatalf("%q: parseLine takes no event", line)
		}
		data := []byte(line + " \r\n" + fastLines[0] + "\n")
		var got event.Event
		if n := w.parseLineFast(data, &got); n != len(line)+3 {
			t.Errorf("%q: parseLineFast read %d bytes, want %d", line, n, len(line)+3)
		} else if got != want {
			t.Errorf("%q: parseLineFast\n  %+v\nparseLine\n  %+v", line, got, want)
		}
	}
}

// TestEmitWritesEveryField: emit writes each field of the event (the
// workers reuse event slots without clearing them): a slot full of
// garbage, every field set through reflection, reads a line as a zero one.
func TestEmitWritesEveryField(t *testing.T) {
	for _, line := range fastLines {
		var want event.Event
		if !newTextWorker("x").parseLine([]byte(line), &want) {
			continue
		}
		var got event.Event
		v := reflect.ValueOf(&got).Elem()
		for i := range v.NumField() {
			fv := v.Field(i)
			switch fv.Kind() {
			case reflect.String:
				fv.SetString("garbage")
			case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
				fv.SetInt(-7)
			case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
				fv.SetUint(7)
			case reflect.Struct:
				for j := range fv.NumField() {
					fv.Field(j).SetUint(7)
				}
			default:
				t.Fatalf("event field %s of kind %s: teach this test to set it", v.Type().Field(i).Name, fv.Kind())
			}
		}
		if !newTextWorker("x").parseLine([]byte(line), &got) {
			t.Fatalf("%q: not read the second time", line)
		}
		if got != want {
			t.Errorf("%q: into a used slot\n  %+v\ninto a zero one\n  %+v", line, got, want)
		}
	}
}

// TestParseLineFastNameAtDataEnd: a remembered name with its blanks as
// long as the match window (32 bytes), on a last line that ends right
// after them, is read (or left to parseLine) without reading past the data.
func TestParseLineFastNameAtDataEnd(t *testing.T) {
	const head = "          <idle>-0     [000]  1437.000003:"
	for pad := 1; pad <= 12; pad++ {
		after := " drm_sched_process_job:" + strings.Repeat(" ", pad)
		line := head + after + "fence=0xffff9a3b4000f600 signaled\n"
		w := newTextWorker("x")
		var ev event.Event
		// parseLine remembers the head, parseLineFast the name.
		if !w.parseLine([]byte(strings.TrimSuffix(line, "\n")), &ev) {
			t.Fatalf("%q: parseLine takes no event", line)
		}
		if n := w.parseLineFast([]byte(line), &ev); n != len(line) {
			t.Fatalf("pad %d: parseLineFast read %d bytes of %d", pad, n, len(line))
		}
		// The name is remembered with all its blanks, so that the next
		// line of the head skips them.
		e := w.heads.lookup([]byte(line))
		if e == nil {
			t.Fatalf("pad %d: head not remembered", pad)
		}
		if (len(after) <= 32) != (e.name.n == len(after)) {
			t.Fatalf("pad %d: %d bytes after the time's ':' remembered, want %d (up to 32)", pad, e.name.n, len(after))
		}
		for _, data := range []string{head + after, head + after + "f"} {
			if n := w.parseLineFast([]byte(data), &ev); n != 0 {
				t.Errorf("pad %d: %q: parseLineFast read %d bytes of a line without its end", pad, data, n)
			}
		}
	}
}
