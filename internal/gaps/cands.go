package gaps

// candChunk is the number of candidates in one chunk of a candStore
// (64 KiB of them).
const candChunk = 1024

// candStore holds the candidate windows, oldest first, in chunks of
// candChunk. It grows without moving what it holds: a run keeps one
// candidate per switch-out (tens of thousands), and a slice grown by
// append allocates, clears and copies several times its final size, in
// fresh pages whose first touch costs more than the copy.
//
// Chunks emptied by truncate are kept for the next pushes, as a slice
// keeps its capacity: a live engine compacts its store again and again,
// and new chunks would be fresh memory each time.
type candStore struct {
	chunks [][]cand // each candChunk long; all but the last are full
	spare  [][]cand // emptied chunks, cleared
	n      int
}

func (s *candStore) len() int { return s.n }

// cap is the number of candidates the chunks, spares included, hold room for.
func (s *candStore) cap() int { return (len(s.chunks) + len(s.spare)) * candChunk }

// at returns the i-th candidate, 0 ≤ i < len.
func (s *candStore) at(i int) *cand { return &s.chunks[i/candChunk][i%candChunk] }

func (s *candStore) push(c cand) {
	if s.n == len(s.chunks)*candChunk {
		if k := len(s.spare); k > 0 {
			s.chunks = append(s.chunks, s.spare[k-1])
			s.spare[k-1] = nil
			s.spare = s.spare[:k-1]
		} else {
			s.chunks = append(s.chunks, make([]cand, candChunk))
		}
	}
	*s.at(s.n) = c
	s.n++
}

// truncate keeps the first n candidates; the chunks past them become spares.
func (s *candStore) truncate(n int) {
	keep := (n + candChunk - 1) / candChunk
	if n%candChunk != 0 {
		clear(s.chunks[keep-1][n%candChunk:])
	}
	for i := keep; i < len(s.chunks); i++ {
		clear(s.chunks[i])
		s.spare = append(s.spare, s.chunks[i])
		s.chunks[i] = nil
	}
	s.chunks = s.chunks[:keep]
	s.n = n
}
