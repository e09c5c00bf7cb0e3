package tracedat

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// synth describes a small trace.dat for the writer below, which lays it out
// as trace-cmd does (see trace-cmd.dat.v6(5) and v7(5)). Tests use it to
// check the reader field by field; the live tests in this package check it
// against files written by trace-cmd itself.
type synth struct {
	version     int
	compression string // v7: "none", "zlib", "zstd"
	pageSize    int
	headerPage  string
	headerEvent string
	formats     map[string][]string // system -> format texts
	cmdlines    string
	// buffers[0] is the top instance; CPU data as whole pages.
	buffers []synthBuffer
}

type synthBuffer struct {
	name  string
	pages [][][]byte // per CPU, its pages
}

type wbuf struct {
	bytes.Buffer
	bo binary.AppendByteOrder
}

func (w *wbuf) u16(v uint16) { w.Write(w.bo.AppendUint16(nil, v)) }
func (w *wbuf) u32(v uint32) { w.Write(w.bo.AppendUint32(nil, v)) }
func (w *wbuf) u64(v uint64) { w.Write(w.bo.AppendUint64(nil, v)) }
func (w *wbuf) cstr(s string) {
	w.WriteString(s)
	w.WriteByte(0)
}
func (w *wbuf) pad(to int) {
	for w.Len()%to != 0 {
		w.WriteByte(0)
	}
}

func compress(t testing.TB, alg string, b []byte) []byte {
	t.Helper()
	switch alg {
	case "zlib":
		var out bytes.Buffer
		zw := zlib.NewWriter(&out)
		zw.Write(b)
		zw.Close()
		return out.Bytes()
	case "zstd":
		e, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		return e.EncodeAll(b, nil)
	}
	t.Fatalf("no compression %q", alg)
	return nil
}

func (s *synth) headerInfo(w *wbuf) {
	w.cstr("header_page")
	w.u64(uint64(len(s.headerPage)))
	w.WriteString(s.headerPage)
	w.cstr("header_event")
	w.u64(uint64(len(s.headerEvent)))
	w.WriteString(s.headerEvent)
}

func (s *synth) eventFormats(w *wbuf) {
	w.u32(uint32(len(s.formats)))
	for _, sys := range sortedKeys(s.formats) {
		w.cstr(sys)
		w.u32(uint32(len(s.formats[sys])))
		for _, f := range s.formats[sys] {
			w.u64(uint64(len(f)))
			w.WriteString(f)
		}
	}
}

func sortedKeys(m map[string][]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func (s *synth) bytes(t testing.TB) []byte {
	t.Helper()
	w := &wbuf{bo: binary.LittleEndian}
	w.WriteString(Magic)
	w.cstr(fmt.Sprint(s.version))
	w.WriteByte(0) // little endian
	w.WriteByte(8) // long size
	w.u32(uint32(s.pageSize))
	if s.version == 6 {
		return s.v6(t, w)
	}
	return s.v7(t, w)
}

func (s *synth) v6(t testing.TB, w *wbuf) []byte {
	s.headerInfo(w)
	w.u32(0) // no ftrace formats
	s.eventFormats(w)
	w.u32(0) // kallsyms
	w.u32(0) // printk
	w.u64(uint64(len(s.cmdlines)))
	w.WriteString(s.cmdlines)
	cpus := len(s.buffers[0].pages)
	w.u32(uint32(cpus))
	// Options: one BUFFER option per named buffer, whose offset is patched
	// once the data is laid out.
	var patches []int
	w.WriteString("options  \x00")
	for _, b := range s.buffers[1:] {
		w.u16(optBuffer)
		w.u32(uint32(8 + len(b.name) + 1))
		patches = append(patches, w.Len())
		w.u64(0)
		w.cstr(b.name)
	}
	w.u16(0)
	w.WriteString("flyrecord\x00")
	tablePos := w.Len()
	for range cpus {
		w.u64(0)
		w.u64(0)
	}
	// Named buffers' flyrecord blocks.
	var tables []int
	for i := range s.buffers[1:] {
		binary.LittleEndian.PutUint64(w.Bytes()[patches[i]:], uint64(w.Len()))
		w.WriteString("flyrecord\x00")
		tables = append(tables, w.Len())
		for range cpus {
			w.u64(0)
			w.u64(0)
		}
	}
	tables = append([]int{tablePos}, tables...)
	for bi, b := range s.buffers {
		for cpu, pages := range b.pages {
			w.pad(s.pageSize)
			off := w.Len()
			for _, p := range pages {
				w.Write(p)
			}
			binary.LittleEndian.PutUint64(w.Bytes()[tables[bi]+16*cpu:], uint64(off))
			binary.LittleEndian.PutUint64(w.Bytes()[tables[bi]+16*cpu+8:], uint64(w.Len()-off))
		}
	}
	return w.Bytes()
}

func (s *synth) v7(t testing.TB, w *wbuf) []byte {
	comp := s.compression
	w.cstr(comp)
	w.cstr("1.0")
	optPos := w.Len()
	w.u64(0)
	section := func(id uint16, body []byte) int {
		off := w.Len()
		w.u16(id)
		if comp != "none" {
			z := compress(t, comp, body)
			w.u16(secCompressed)
			w.u32(0)
			w.u64(uint64(8 + len(z)))
			w.u32(uint32(len(z)))
			w.u32(uint32(len(body)))
			w.Write(z)
		} else {
			w.u16(0)
			w.u32(0)
			w.u64(uint64(len(body)))
			w.Write(body)
		}
		return off
	}
	hi := &wbuf{bo: w.bo}
	s.headerInfo(hi)
	hiOff := section(optHeaderInfo, hi.Bytes())
	ef := &wbuf{bo: w.bo}
	s.eventFormats(ef)
	efOff := section(optEventFormats, ef.Bytes())
	cl := &wbuf{bo: w.bo}
	cl.u64(uint64(len(s.cmdlines)))
	cl.WriteString(s.cmdlines)
	clOff := section(optCmdlines, cl.Bytes())

	// Buffers: a flyrecord section header, then page-aligned CPU data.
	type cpuLoc struct{ off, size int }
	var bufOffs []int
	var locs [][]cpuLoc
	for _, b := range s.buffers {
		bufOffs = append(bufOffs, w.Len())
		w.u16(0)
		flags := uint16(0)
		if comp != "none" {
			flags = secCompressed
		}
		w.u16(flags)
		w.u32(0)
		w.u64(0)
		var l []cpuLoc
		for _, pages := range b.pages {
			w.pad(s.pageSize)
			off := w.Len()
			if comp != "none" {
				// Two chunks when there is more than one page, as
				// trace-cmd splits large data.
				chunks := [][][]byte{pages}
				if len(pages) > 1 {
					chunks = [][][]byte{pages[:1], pages[1:]}
				}
				w.u32(uint32(len(chunks)))
				for _, ch := range chunks {
					raw := bytes.Join(ch, nil)
					z := compress(t, comp, raw)
					w.u32(uint32(len(z)))
					w.u32(uint32(len(raw)))
					w.Write(z)
				}
			} else {
				for _, p := range pages {
					w.Write(p)
				}
			}
			l = append(l, cpuLoc{off, w.Len() - off})
		}
		locs = append(locs, l)
	}
	// Two options sections, chained, to exercise DONE's next offset.
	opt := &wbuf{bo: w.bo}
	o64 := func(id uint16, v int) {
		opt.u16(id)
		opt.u32(8)
		opt.u64(uint64(v))
	}
	o64(optHeaderInfo, hiOff)
	o64(optEventFormats, efOff)
	opt2 := &wbuf{bo: w.bo}
	o64c := func(id uint16, v int) {
		opt2.u16(id)
		opt2.u32(8)
		opt2.u64(uint64(v))
	}
	o64c(optCmdlines, clOff)
	for i, b := range s.buffers {
		d := &wbuf{bo: w.bo}
		d.u64(uint64(bufOffs[i]))
		d.cstr(b.name)
		d.cstr("mono")
		d.u32(uint32(s.pageSize))
		d.u32(uint32(len(locs[i])))
		for cpu, l := range locs[i] {
			d.u32(uint32(cpu))
			d.u64(uint64(l.off))
			d.u64(uint64(l.size))
		}
		opt2.u16(optBuffer)
		opt2.u32(uint32(d.Len()))
		opt2.Write(d.Bytes())
	}
	opt2.u16(optDone)
	opt2.u32(8)
	opt2.u64(0)
	second := section(0, opt2.Bytes())
	opt.u16(optDone)
	opt.u32(8)
	opt.u64(uint64(second))
	first := section(0, opt.Bytes())
	binary.LittleEndian.PutUint64(w.Bytes()[optPos:], uint64(first))
	return w.Bytes()
}

func page(fill byte, size int) []byte { return bytes.Repeat([]byte{fill}, size) }

func sample(version int, comp string) *synth {
	return &synth{
		version:     version,
		compression: comp,
		pageSize:    4096,
		headerPage:  "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n",
		headerEvent: "# compressed entry header\n\ttype_len    :    5 bits\n",
		formats: map[string][]string{
			"gpu_scheduler": {"name: drm_run_job\nID: 1234\n", "name: drm_sched_process_job\nID: 1235\n"},
			"dma_fence":     {"name: dma_fence_signaled\nID: 99\n"},
		},
		cmdlines: "123 glmark2\n456 Xorg\n",
		buffers: []synthBuffer{
			{name: "", pages: [][][]byte{{page(1, 4096), page(2, 4096), page(3, 4096)}, {page(4, 4096)}}},
			{name: "gpuwatch", pages: [][][]byte{{}, {page(5, 4096), page(6, 4096)}}},
		},
	}
}

func TestOpenSynthetic(t *testing.T) {
	for _, tc := range []struct {
		version int
		comp    string
	}{{6, ""}, {7, "none"}, {7, "zlib"}, {7, "zstd"}} {
		t.Run(fmt.Sprintf("v%d-%s", tc.version, tc.comp), func(t *testing.T) {
			s := sample(tc.version, tc.comp)
			data := s.bytes(t)
			f, err := Open(bytes.NewReader(data), int64(len(data)), "synthetic.dat")
			if err != nil {
				t.Fatal(err)
			}
			if f.Version != tc.version || f.PageSize != 4096 || f.LongSize != 8 {
				t.Errorf("header: version %d page %d long %d", f.Version, f.PageSize, f.LongSize)
			}
			if string(f.HeaderPage) != s.headerPage || string(f.HeaderEvent) != s.headerEvent {
				t.Errorf("header info: %q %q", f.HeaderPage, f.HeaderEvent)
			}
			if string(f.Cmdlines) != s.cmdlines {
				t.Errorf("cmdlines %q", f.Cmdlines)
			}
			if len(f.Formats) != 3 || f.Formats[0].System != "dma_fence" || string(f.Formats[1].Text) != s.formats["gpu_scheduler"][0] {
				t.Errorf("formats %+v", f.Formats)
			}
			if len(f.Buffers) != len(s.buffers) {
				t.Fatalf("%d buffers, want %d", len(f.Buffers), len(s.buffers))
			}
			for bi, sb := range s.buffers {
				b, ok := f.Buffer(sb.name)
				if !ok {
					t.Fatalf("no buffer %q", sb.name)
				}
				if len(b.CPUs) != len(sb.pages) {
					t.Fatalf("buffer %q: %d cpus, want %d", sb.name, len(b.CPUs), len(sb.pages))
				}
				for ci, c := range b.CPUs {
					var got [][]byte
					pr := f.Pages(b, c)
					for {
						p, err := pr.Next()
						if err == io.EOF {
							break
						}
						if err != nil {
							t.Fatalf("buffer %d cpu %d: %v", bi, ci, err)
						}
						got = append(got, bytes.Clone(p))
					}
					want := sb.pages[ci]
					if len(got) != len(want) {
						t.Fatalf("buffer %q cpu %d: %d pages, want %d", sb.name, ci, len(got), len(want))
					}
					for i := range got {
						if !bytes.Equal(got[i], want[i]) {
							t.Errorf("buffer %q cpu %d page %d differs", sb.name, ci, i)
						}
					}
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	good := sample(7, "zstd").bytes(t)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no trace.dat magic"},
		{"text", []byte("cpus=2\n  <idle>-0 [000] 1.0: foo\n"), "no trace.dat magic"},
		{"version", append([]byte(Magic), "5\x00\x00\x08\x00\x10\x00\x00"...), `file version "5"`},
		{"truncated header", []byte(Magic + "7"), "truncated"},
		{"truncated file", good[:len(good)/2], "outside the file"},
		{"compression", append([]byte(Magic), "7\x00\x00\x08\x00\x10\x00\x00lz4\x001\x00\x00\x00\x00\x00\x00\x00\x00\x00"...), `compression "lz4"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(tc.data), int64(len(tc.data)), "bad.dat")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrFormat) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) || !bytes.HasPrefix([]byte(err.Error()), []byte("bad.dat: ")) {
				t.Errorf("error %q: want ErrFormat naming the file and containing %q", err, tc.want)
			}
		})
	}
}

// FuzzOpen checks that no input makes the container reader panic or read
// without bound: every page it yields is at most a page long.
func FuzzOpen(f *testing.F) {
	for _, v := range []struct {
		version int
		comp    string
	}{{6, ""}, {7, "none"}, {7, "zstd"}, {7, "zlib"}} {
		s := sample(v.version, v.comp)
		s.buffers[0].pages = [][][]byte{{page(1, 64)}}
		s.buffers[1].pages = [][][]byte{{page(2, 64)}}
		s.pageSize = 64
		f.Add(s.bytes(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Open(bytes.NewReader(data), int64(len(data)), "fuzz.dat")
		if err != nil {
			return
		}
		for i := range file.Buffers {
			b := &file.Buffers[i]
			for _, c := range b.CPUs {
				pr := file.Pages(b, c)
				for n := 0; n < 1000; n++ {
					p, err := pr.Next()
					if err != nil {
						break
					}
					if len(p) > b.PageSize {
						t.Fatalf("page of %d bytes, page size %d", len(p), b.PageSize)
					}
				}
			}
		}
	})
}
