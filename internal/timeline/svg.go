package timeline

import (
	"errors"
	"io"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// WriteSVG writes s as an SVG document to w.
func WriteSVG(w io.Writer, s *gaps.Snapshot) error {
	return errors.New("SVG output is not implemented yet")
}
