package safetensors

import (
	"bytes"
	"encoding/binary"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorgonia-zoo/resnet/internal/atomicfile"
	"github.com/pkg/errors"
)

// Write writes f to w in the safetensors format. The output is
// deterministic and follows the layout of the reference Rust/Python library
// (safetensors.torch.save_file): compact JSON with "__metadata__" first
// (its keys sorted), then the tensors ordered by decreasing dtype alignment
// and then by name, which keeps every tensor naturally aligned; the header
// is padded with spaces to a multiple of 8 bytes.
//
// Write checks f before writing anything: names must be unique, valid
// UTF-8 and not "__metadata__", dtypes supported and each Data exactly as
// long as its shape requires.
func Write(w io.Writer, f *File) error {
	if err := write(w, f); err != nil {
		return errors.WithMessage(err, "safetensors: write")
	}
	return nil
}

func write(w io.Writer, f *File) error {
	header, ordered, err := encodeHeader(f)
	if err != nil {
		return err
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(header)))
	if _, err := w.Write(prefix[:]); err != nil {
		return errors.Wrap(err, "writing the header length")
	}
	if _, err := w.Write(header); err != nil {
		return errors.Wrap(err, "writing the header")
	}
	for _, t := range ordered {
		if _, err := w.Write(t.Data); err != nil {
			return errors.Wrapf(err, "writing tensor %q", t.Name)
		}
	}
	return nil
}

// encodeHeader validates f and returns its padded JSON header and its
// tensors in file order.
func encodeHeader(f *File) ([]byte, []Tensor, error) {
	if f == nil {
		return nil, nil, errors.New("nil *File")
	}
	seen := make(map[string]bool, len(f.Tensors))
	for _, t := range f.Tensors {
		switch {
		case t.Name == metadataKey:
			return nil, nil, errors.Errorf("tensor name %q is reserved for metadata", t.Name)
		case !utf8.ValidString(t.Name):
			return nil, nil, errors.Errorf("tensor name %q is not valid UTF-8", t.Name)
		case seen[t.Name]:
			return nil, nil, errors.Errorf("two tensors are named %q", t.Name)
		}
		seen[t.Name] = true
		if err := t.check(); err != nil {
			return nil, nil, err
		}
	}
	keys := make([]string, 0, len(f.Metadata))
	for k, v := range f.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, errors.Errorf("%s[%q] is not valid UTF-8", metadataKey, k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)

	ordered := slices.Clone(f.Tensors)
	slices.SortFunc(ordered, func(a, b Tensor) int {
		if ra, rb := dtypes[a.DType].rank, dtypes[b.DType].rank; ra != rb {
			return rb - ra
		}
		return strings.Compare(a.Name, b.Name)
	})

	b := []byte{'{'}
	if f.Metadata != nil {
		b = appendJSONString(b, metadataKey)
		b = append(b, ":{"...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, f.Metadata[k])
		}
		b = append(b, '}')
	}
	var offset uint64
	for i, t := range ordered {
		if i > 0 || f.Metadata != nil {
			b = append(b, ',')
		}
		b = appendJSONString(b, t.Name)
		b = append(b, `:{"dtype":`...)
		b = appendJSONString(b, string(t.DType))
		b = append(b, `,"shape":`...)
		b = append(b, shapeString(t.Shape)...)
		b = append(b, `,"data_offsets":[`...)
		b = strconv.AppendUint(b, offset, 10)
		b = append(b, ',')
		offset += uint64(len(t.Data))
		b = strconv.AppendUint(b, offset, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	b = append(b, bytes.Repeat([]byte{' '}, (8-len(b)%8)%8)...)
	if len(b) > MaxHeaderSize {
		return nil, nil, errors.Errorf("header would be %d bytes, more than the limit of %d", len(b), MaxHeaderSize)
	}
	return b, ordered, nil
}

// appendJSONString appends s, which must be valid UTF-8, as a JSON string
// escaped the way serde_json (the reference implementation) does: only
// quotes, backslashes and control characters are escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// WriteFile writes f to path atomically (internal/atomicfile): a kill or a
// failure at any moment leaves an existing file at path as it was, and no
// temporary file behind except after a kill. A new file gets mode 0644; a
// replaced file keeps its permissions. Errors name the path.
func WriteFile(path string, f *File) error {
	if _, _, err := encodeHeader(f); err != nil {
		// invalid input: fail before touching the file system
		return errors.WithMessagef(err, "safetensors: write %s", path)
	}
	err := atomicfile.Write(path, func(w io.Writer) error { return write(w, f) })
	return errors.WithMessage(err, "safetensors")
}
