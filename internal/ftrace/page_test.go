package ftrace

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// pageBuilder writes a ring-buffer page the way kernel/trace/ring_buffer.c
// lays it out (64-bit header: timestamp, commit, data).
type pageBuilder struct {
	ts   uint64
	data []byte
}

func (p *pageBuilder) hdr(typ, delta uint32) {
	p.data = binary.LittleEndian.AppendUint32(p.data, typ|delta<<5)
}

// rec appends a data record; payloads up to 112 bytes use type_len
// len/4 (padded to 4), longer ones type_len 0.
func (p *pageBuilder) rec(delta uint32, payload []byte) {
	n := (len(payload) + 3) &^ 3
	if n <= 28*4 && n > 0 {
		p.hdr(uint32(n/4), delta)
	} else {
		p.hdr(0, delta)
		p.data = binary.LittleEndian.AppendUint32(p.data, uint32(n+4))
	}
	p.data = append(p.data, payload...)
	p.data = append(p.data, make([]byte, n-len(payload))...)
}

func (p *pageBuilder) extend(delta uint64) {
	p.hdr(30, uint32(delta&(1<<27-1)))
	p.data = binary.LittleEndian.AppendUint32(p.data, uint32(delta>>27))
}

func (p *pageBuilder) abs(ts uint64) {
	p.hdr(31, uint32(ts&(1<<27-1)))
	p.data = binary.LittleEndian.AppendUint32(p.data, uint32(ts>>27))
}

func (p *pageBuilder) discarded(n int) {
	p.hdr(29, 1)
	p.data = binary.LittleEndian.AppendUint32(p.data, uint32(n))
	p.data = append(p.data, make([]byte, n-4)...)
}

func (p *pageBuilder) page(flags uint64, lost uint64) []byte {
	b := make([]byte, 4096)
	binary.LittleEndian.PutUint64(b, p.ts)
	binary.LittleEndian.PutUint64(b[8:], uint64(len(p.data))|flags)
	copy(b[16:], p.data)
	if flags&pageMissedStored != 0 {
		binary.LittleEndian.PutUint64(b[16+len(p.data):], lost)
	}
	return b
}

type pageRec struct {
	ts  uint64
	rec []byte
}

func pageCollect(t testing.TB, page []byte) ([]pageRec, PageInfo, error) {
	var got []pageRec
	info, err := DecodePage(DefaultPageLayout, DefaultHeaderEvent, page, func(ts uint64, rec []byte) {
		got = append(got, pageRec{ts, append([]byte(nil), rec...)})
	})
	return got, info, err
}

func TestDecodePageKinds(t *testing.T) {
	p := &pageBuilder{ts: 1000}
	p.rec(5, []byte{1, 2, 3, 4})             // 1005
	p.extend(3<<27 + 7)                      // 1005 + 3<<27 + 7
	p.rec(1, make([]byte, 200))              // type_len 0
	p.discarded(24)                          // a discarded event
	p.abs(0x0123_4567_89ab)                  // absolute
	p.rec(2, []byte{9, 9, 9, 9, 9, 9, 9, 9}) // abs + 2
	p.hdr(29, 0)                             // padding to the end
	got, info, err := pageCollect(t, p.page(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{1005, 1005 + 3<<27 + 7 + 1, 0x0123_4567_89ab + 2}
	if len(got) != 3 {
		t.Fatalf("%d records, want 3", len(got))
	}
	for i, w := range want {
		if got[i].ts != w {
			t.Errorf("record %d at %d, want %d", i, got[i].ts, w)
		}
	}
	if len(got[1].rec) != 200 || len(got[0].rec) != 4 || got[2].rec[0] != 9 {
		t.Errorf("record lengths %d %d", len(got[0].rec), len(got[1].rec))
	}
	if info.Records != 3 || info.Discarded != 1 || info.Extends != 2 || info.Missed || info.Timestamp != 1000 {
		t.Errorf("info %+v", info)
	}
}

// rb_fix_abs_ts: the absolute stamp lacks the top 5 bits; they come from
// the running time, with a carry when the low part wrapped.
func TestDecodePageAbsMSB(t *testing.T) {
	const msb = uint64(1) << 60
	p := &pageBuilder{ts: msb | (1<<59 - 100)}
	p.abs(50) // wrapped past 1<<59
	p.rec(0, []byte{1, 2, 3, 4})
	got, _, err := pageCollect(t, p.page(0, 0))
	if err != nil || len(got) != 1 {
		t.Fatal(err, len(got))
	}
	if want := msb + 1<<59 + 50; got[0].ts != want {
		t.Errorf("ts %#x, want %#x", got[0].ts, want)
	}
}

func TestDecodePageMissed(t *testing.T) {
	p := &pageBuilder{ts: 1}
	p.rec(0, []byte{1, 2, 3, 4})
	_, info, err := pageCollect(t, p.page(pageMissedEvents|pageMissedStored, 4242))
	if err != nil || !info.Missed || !info.LostKnown || info.Lost != 4242 {
		t.Errorf("info %+v, %v", info, err)
	}
	_, info, _ = pageCollect(t, p.page(pageMissedEvents, 0))
	if !info.Missed || info.LostKnown {
		t.Errorf("info %+v", info)
	}
}

func TestDecodePageCorrupt(t *testing.T) {
	good := &pageBuilder{ts: 1}
	good.rec(0, []byte{1, 2, 3, 4})
	for name, page := range map[string][]byte{
		"short":  make([]byte, 10),
		"commit": func() []byte { b := good.page(0, 0); binary.LittleEndian.PutUint64(b[8:], 5000); return b }(),
		"bad length": func() []byte {
			p := *good
			p.data = append([]byte(nil), p.data...)
			p.hdr(0, 0)
			p.data = binary.LittleEndian.AppendUint32(p.data, 9999)
			return p.page(0, 0)
		}(),
		"truncated": func() []byte { p := *good; p.data = append(append([]byte(nil), p.data...), 1, 0); return p.page(0, 0) }(),
	} {
		got, _, err := pageCollect(t, page)
		var pe *PageError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err %v, want a PageError", name, err)
			continue
		}
		if name != "short" && name != "commit" && len(got) != 1 {
			t.Errorf("%s: the record before the damage was lost", name)
		}
	}
}

// Pages captured on this machine's kernel (testdata/pages, written by
// TestRealKernelPages with -update-pages): every record decodes to a known
// event, and the per-CPU times never go back.
func TestDecodeCapturedPages(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/pages/*")
	if len(dirs) == 0 {
		t.Skip("no captured pages in testdata/pages")
	}
	for _, dir := range dirs {
		checkCaptured(t, dir)
	}
}

func checkCaptured(t *testing.T, dir string) {
	l, h, dec := pageLoadDir(t, dir)
	pages, _ := filepath.Glob(filepath.Join(dir, "cpu*.raw"))
	n, extends, missed, lostKnown := 0, 0, 0, 0
	for _, pf := range pages {
		b, err := os.ReadFile(pf)
		if err != nil {
			t.Fatal(err)
		}
		var last uint64
		for off := 0; off+l.PageSize() <= len(b); off += l.PageSize() {
			info, err := DecodePage(l, h, b[off:off+l.PageSize()], func(ts uint64, rec []byte) {
				if ts < last {
					t.Errorf("%s: time went back %d -> %d", pf, last, ts)
				}
				last = ts
				var ev eventT
				ok, err := dec.Decode(ts, 0, rec, &ev)
				if !ok || err != nil {
					t.Errorf("%s: record not decoded: %v", pf, err)
				}
				// What gpusim fires (livetest/testdata/gpusim.c).
				if ev.Ring != "" && (ev.Ring != "gfx" || ev.Entity != 0xffff888012340000 || ev.Job.Fence != 0xffff888100000000+(ev.ID-1)*0x100 || ev.HWJobCount != 1) {
					t.Errorf("%s: unexpected %+v", pf, ev)
				}
				n++
			})
			if err != nil {
				t.Errorf("%s: %v", pf, err)
			}
			extends += info.Extends
			if info.Missed {
				missed++
				if info.LostKnown {
					lostKnown++
				}
			}
		}
	}
	if n == 0 {
		t.Errorf("%s: no records", dir)
	}
	switch filepath.Base(dir) {
	case "drm_load":
		if extends == 0 || missed != 0 {
			t.Errorf("%s: %d time extends, %d pages with losses; want >0 and 0", dir, extends, missed)
		}
	case "drm_lost":
		if lostKnown == 0 {
			t.Errorf("%s: no page with a stored lost count", dir)
		}
	}
}
