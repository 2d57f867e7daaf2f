package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pkg/errors"
)

// MaxHeaderSize is the largest header, in bytes, that Read accepts and Write
// produces. It is the limit of the reference implementation.
const MaxHeaderSize = 100_000_000

// metadataKey is the header key of the free-form metadata map.
const metadataKey = "__metadata__"

// Read reads a whole safetensors file from r and validates it: the header
// must be well-formed JSON of the expected types with unique names and known
// dtypes, each tensor's byte range must match its dtype and shape, and the
// ranges must tile the data section exactly, without overlaps, gaps or
// trailing bytes.
//
// When r reports its size (Len() int, such as *bytes.Reader, or a regular
// *os.File or other io.Seeker) the declared sizes are checked against it
// before anything is allocated; otherwise buffers grow only as data actually
// arrives. The returned tensors are sorted by name and their Data slices
// share one buffer.
func Read(r io.Reader) (*File, error) {
	f, err := read(r)
	if err != nil {
		return nil, errors.WithMessage(err, "safetensors: read")
	}
	return f, nil
}

// ReadFile reads and validates the safetensors file at path, like Read.
// Errors name the path.
func ReadFile(path string) (*File, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "safetensors")
	}
	defer file.Close()
	f, err := read(file)
	if err != nil {
		return nil, errors.WithMessagef(err, "safetensors: read %s", path)
	}
	return f, nil
}

// headerEntry is one tensor as declared in the header.
type headerEntry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
}

func read(r io.Reader) (*File, error) {
	remaining, err := remainingSize(r) // -1 when unknown
	if err != nil {
		return nil, err
	}
	var prefix [8]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errors.New("input is shorter than the 8-byte header length")
		}
		return nil, errors.Wrap(err, "reading the header length")
	}
	headerLen := binary.LittleEndian.Uint64(prefix[:])
	if headerLen > MaxHeaderSize {
		return nil, errors.Errorf("header length %d exceeds the limit of %d bytes", headerLen, MaxHeaderSize)
	}
	if remaining >= 0 {
		remaining -= 8
		if headerLen > uint64(remaining) {
			return nil, errors.Errorf("header length %d exceeds the %d bytes left in the input", headerLen, remaining)
		}
		remaining -= int64(headerLen)
	}
	header, err := readN(r, int64(headerLen), remaining >= 0)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, errors.Errorf("header length %d exceeds the %d bytes left in the input", headerLen, len(header))
		}
		return nil, errors.Wrap(err, "reading the header")
	}

	entries, metadata, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	dataLen, last, err := checkLayout(entries)
	if err != nil {
		return nil, err
	}
	if remaining >= 0 && dataLen != uint64(remaining) {
		return nil, dataSizeError(dataLen, uint64(remaining), true, last)
	}
	if dataLen > math.MaxInt {
		return nil, errors.Errorf("tensor %q ends at offset %d, too large for this platform", last, dataLen)
	}
	data, err := readN(r, int64(dataLen), remaining >= 0)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, dataSizeError(dataLen, uint64(len(data)), true, last)
		}
		return nil, errors.Wrap(err, "reading the data")
	}
	var extra [1]byte
	if n, err := io.ReadAtLeast(r, extra[:], 1); n > 0 {
		return nil, dataSizeError(dataLen, dataLen+1, false, last)
	} else if err != io.EOF {
		return nil, errors.Wrap(err, "reading past the data")
	}

	f := &File{Tensors: make([]Tensor, len(entries)), Metadata: metadata}
	for i, e := range entries {
		f.Tensors[i] = Tensor{
			Name:  e.name,
			DType: e.dtype,
			Shape: e.shape,
			Data:  data[e.begin:e.end:e.end],
		}
	}
	slices.SortFunc(f.Tensors, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return f, nil
}

// dataSizeError reports a data section of actual bytes where the header
// describes want bytes, ending with tensor last. If !exact, the input holds
// at least actual bytes.
func dataSizeError(want, actual uint64, exact bool, last string) error {
	switch {
	case actual < want:
		return errors.Errorf("tensor %q ends at offset %d, beyond the %d-byte data section", last, want, actual)
	case last == "":
		return errors.New("the header declares no tensors, but data follows it")
	case exact:
		return errors.Errorf("%d bytes of data follow the last tensor %q, which ends at offset %d", actual-want, last, want)
	}
	return errors.Errorf("data follows the last tensor %q, which ends at offset %d", last, want)
}

// remainingSize returns how many bytes r has left, or -1 if r cannot tell.
func remainingSize(r io.Reader) (int64, error) {
	if f, ok := r.(*os.File); ok {
		info, err := f.Stat()
		if err != nil || !info.Mode().IsRegular() {
			return -1, nil
		}
	}
	switch r := r.(type) {
	case interface{ Len() int }:
		return int64(r.Len()), nil
	case io.Seeker:
		current, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1, nil
		}
		end, err := r.Seek(0, io.SeekEnd)
		if err != nil {
			return -1, nil
		}
		if _, err := r.Seek(current, io.SeekStart); err != nil {
			return -1, errors.Wrap(err, "seeking back to the start")
		}
		if end < current {
			return -1, nil
		}
		return end - current, nil
	}
	return -1, nil
}

// readN reads exactly n bytes from r. If sized, n has been checked against
// the size of the input and is allocated at once; otherwise the buffer grows
// with the data read, so a lying size costs no more memory than the input.
// A short read returns the bytes read and io.ErrUnexpectedEOF.
func readN(r io.Reader, n int64, sized bool) ([]byte, error) {
	if sized {
		buf := make([]byte, n)
		got, err := io.ReadFull(r, buf)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf[:got], err
	}
	var buf bytes.Buffer
	got, err := io.CopyN(&buf, r, n)
	if err == io.EOF || (err == nil && got < n) {
		err = io.ErrUnexpectedEOF
	}
	if buf.Bytes() == nil {
		return []byte{}, err
	}
	return buf.Bytes(), err
}

// parseHeader decodes the JSON header strictly: it must be one object whose
// keys are unique, whose "__metadata__" value, if any, maps strings to
// strings, and whose other values describe tensors. Only whitespace may
// follow the object.
func parseHeader(header []byte) ([]headerEntry, map[string]string, error) {
	if !utf8.Valid(header) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if err := expectDelim(dec, '{', "header"); err != nil {
		return nil, nil, err
	}
	var (
		entries  []headerEntry
		metadata map[string]string
		seen     = map[string]bool{}
	)
	for dec.More() {
		name, err := readKey(dec, "header")
		if err != nil {
			return nil, nil, err
		}
		if seen[name] {
			return nil, nil, errors.Errorf("header has the key %q twice", name)
		}
		seen[name] = true
		if name == metadataKey {
			if metadata, err = parseMetadata(dec); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := parseEntry(dec, name)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if err := expectDelim(dec, '}', "header"); err != nil {
		return nil, nil, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, jsonError(err)
		}
		return nil, nil, errors.Errorf("header has %s after its JSON object; only space padding may follow", kindOf(tok))
	}
	return entries, metadata, nil
}

// parseMetadata decodes the value of "__metadata__": null or an object of
// strings with unique keys.
func parseMetadata(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(err)
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('{') {
		return nil, errors.Errorf("%s must be an object of strings, found %s", metadataKey, kindOf(tok))
	}
	metadata := map[string]string{}
	for dec.More() {
		key, err := readKey(dec, metadataKey)
		if err != nil {
			return nil, err
		}
		if _, dup := metadata[key]; dup {
			return nil, errors.Errorf("%s has the key %q twice", metadataKey, key)
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		value, ok := tok.(string)
		if !ok {
			return nil, errors.Errorf("%s[%q] must be a string, found %s", metadataKey, key, kindOf(tok))
		}
		metadata[key] = value
	}
	return metadata, expectDelim(dec, '}', metadataKey)
}

// parseEntry decodes the description of tensor name:
// {"dtype": string, "shape": [uint...], "data_offsets": [uint, uint]}.
// Other fields are skipped, as the reference implementation does.
func parseEntry(dec *json.Decoder, name string) (headerEntry, error) {
	e := headerEntry{name: name}
	where := "tensor " + strconv.Quote(name)
	if err := expectDelim(dec, '{', where); err != nil {
		return e, err
	}
	seen := map[string]bool{}
	for dec.More() {
		field, err := readKey(dec, where)
		if err != nil {
			return e, err
		}
		if seen[field] {
			return e, errors.Errorf("%s has the field %q twice", where, field)
		}
		seen[field] = true
		switch field {
		case "dtype":
			tok, err := dec.Token()
			if err != nil {
				return e, jsonError(err)
			}
			s, ok := tok.(string)
			if !ok {
				return e, errors.Errorf("%s: dtype must be a string, found %s", where, kindOf(tok))
			}
			if DType(s).Size() == 0 {
				return e, errors.Errorf("%s: unknown dtype %q", where, s)
			}
			e.dtype = DType(s)
		case "shape":
			dims, err := readUints(dec, where+": shape")
			if err != nil {
				return e, err
			}
			e.shape = make([]int, len(dims))
			for i, d := range dims {
				if d > math.MaxInt {
					return e, errors.Errorf("%s: shape dimension %d does not fit in an int", where, d)
				}
				e.shape[i] = int(d)
			}
		case "data_offsets":
			offsets, err := readUints(dec, where+": data_offsets")
			if err != nil {
				return e, err
			}
			if len(offsets) != 2 {
				return e, errors.Errorf("%s: data_offsets must be [begin, end], found %d numbers", where, len(offsets))
			}
			e.begin, e.end = offsets[0], offsets[1]
		default:
			var skipped json.RawMessage
			if err := dec.Decode(&skipped); err != nil {
				return e, jsonError(err)
			}
		}
	}
	for _, field := range []string{"dtype", "shape", "data_offsets"} {
		if !seen[field] {
			return e, errors.Errorf("%s has no %q field", where, field)
		}
	}
	return e, expectDelim(dec, '}', where)
}

// readUints decodes an array of non-negative integers that fit in a uint64.
func readUints(dec *json.Decoder, where string) ([]uint64, error) {
	if err := expectDelim(dec, '[', where); err != nil {
		return nil, err
	}
	values := []uint64{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		number, ok := tok.(json.Number)
		if !ok {
			return nil, errors.Errorf("%s must hold non-negative integers, found %s", where, kindOf(tok))
		}
		v, err := strconv.ParseUint(string(number), 10, 64)
		if err != nil {
			return nil, errors.Errorf("%s must hold non-negative integers below 2^64, found %s", where, number)
		}
		values = append(values, v)
	}
	return values, expectDelim(dec, ']', where)
}

// readKey reads an object key; the decoder guarantees it is a string.
func readKey(dec *json.Decoder, where string) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", jsonError(err)
	}
	key, ok := tok.(string)
	if !ok {
		return "", errors.Errorf("%s: expected an object key, found %s", where, kindOf(tok))
	}
	return key, nil
}

// expectDelim reads the next token and checks that it is delim.
func expectDelim(dec *json.Decoder, delim json.Delim, where string) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if tok != delim {
		want := map[json.Delim]string{'{': "an object", '[': "an array", '}': "the end of an object", ']': "the end of an array"}[delim]
		return errors.Errorf("%s must be %s, found %s", where, want, kindOf(tok))
	}
	return nil
}

// jsonError reports a JSON syntax error; the decoder's io.EOF means the
// header ended early.
func jsonError(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return errors.Wrap(err, "header is not valid JSON")
}

// kindOf names the JSON kind of a token, with an article, for error messages.
func kindOf(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return "'" + tok.String() + "'"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a value"
}

// checkLayout checks each entry's byte range against its dtype and shape and
// that the ranges, sorted by offset, tile [0, dataLen) without overlaps or
// gaps. It returns dataLen and the name of the tensor that ends last.
func checkLayout(entries []headerEntry) (dataLen uint64, last string, err error) {
	for _, e := range entries {
		where := "tensor " + strconv.Quote(e.name)
		if e.end < e.begin {
			return 0, "", errors.Errorf("%s: data_offsets [%d,%d] end before they begin", where, e.begin, e.end)
		}
		nbytes, err := byteSize(e.dtype, e.shape)
		if err != nil {
			return 0, "", errors.Wrap(err, where)
		}
		if e.end-e.begin != uint64(nbytes) {
			return 0, "", errors.Errorf("%s: dtype %s with shape %s needs %d bytes, but data_offsets [%d,%d] span %d",
				where, e.dtype, shapeString(e.shape), nbytes, e.begin, e.end, e.end-e.begin)
		}
	}
	byOffset := slices.Clone(entries)
	slices.SortFunc(byOffset, func(a, b headerEntry) int {
		if a.begin != b.begin {
			return compareUint(a.begin, b.begin)
		}
		if a.end != b.end {
			return compareUint(a.end, b.end)
		}
		return strings.Compare(a.name, b.name)
	})
	for _, e := range byOffset {
		switch {
		case e.begin < dataLen:
			return 0, "", errors.Errorf("tensor %q: data_offsets [%d,%d] overlap tensor %q, which ends at %d",
				e.name, e.begin, e.end, last, dataLen)
		case e.begin > dataLen:
			return 0, "", errors.Errorf("tensor %q: data_offsets [%d,%d] leave a gap: expected the tensor to begin at %d",
				e.name, e.begin, e.end, dataLen)
		}
		dataLen, last = e.end, e.name
	}
	return dataLen, last, nil
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
