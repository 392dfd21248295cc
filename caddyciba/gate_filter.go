package caddyciba

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyciba/gateway/internal/op"
)

// filterBufferLimit: a JSON answer of known length up to this size is filtered in one
// piece and sent with its Content-Length; a longer one, or one of unknown length, is
// filtered as it streams.
const filterBufferLimit = 1 << 20

// What the filtering writer does with the upstream's answer, chosen at WriteHeader.
const (
	passThrough = iota // errors, non-JSON: untouched
	buffered
	streamed
	refused // a compressed JSON body the gate cannot read
)

// filterWriter passes the upstream's successful JSON answers through the consent's
// filter, buffered or streamed; everything else passes untouched.
type filterWriter struct {
	// A value, not a pointer: one allocation less on every gated answer.
	caddyhttp.ResponseWriterWrapper
	adm         *op.Admission
	mode        int
	wroteHeader bool
	status      int
	buf         *bytes.Buffer
	pipe        *io.PipeWriter
	filtered    chan error
}

func (fw *filterWriter) WriteHeader(status int) {
	if fw.wroteHeader {
		return
	}
	fw.wroteHeader, fw.status = true, status
	h := fw.Header()
	switch {
	case status != http.StatusOK || !isJSON(h.Get("Content-Type")):
		fw.mode = passThrough
		fw.ResponseWriterWrapper.WriteHeader(status)
		return
	case h.Get("Content-Encoding") != "" && h.Get("Content-Encoding") != "identity":
		fw.mode = refused
		return
	}
	if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n <= filterBufferLimit {
		fw.mode = buffered
		fw.buf = filterBuffers.Get().(*bytes.Buffer)
		fw.buf.Reset()
		return
	}
	fw.mode = streamed
	h.Del("Content-Length")
	fw.ResponseWriterWrapper.WriteHeader(status)
	pr, pw := io.Pipe()
	fw.pipe, fw.filtered = pw, make(chan error, 1)
	go func() {
		err := fw.adm.Consent.FilterStream(&fw.ResponseWriterWrapper, pr, fw.adm.Endpoint)
		pr.CloseWithError(err) // the upstream copy stops at once if the filter gave up
		fw.filtered <- err
	}()
}

func (fw *filterWriter) Write(p []byte) (int, error) {
	if !fw.wroteHeader {
		fw.WriteHeader(http.StatusOK)
	}
	switch fw.mode {
	case buffered:
		return fw.buf.Write(p)
	case streamed:
		return fw.pipe.Write(p)
	case refused:
		return len(p), nil
	}
	return fw.ResponseWriterWrapper.Write(p)
}

// ReadFrom keeps io.Copy (reverse_proxy's copy of the upstream body) from going around
// Write to the connection, without a copy buffer of its own per answer.
func (fw *filterWriter) ReadFrom(r io.Reader) (int64, error) {
	if !fw.wroteHeader {
		fw.WriteHeader(http.StatusOK)
	}
	switch fw.mode {
	case passThrough:
		return fw.ResponseWriterWrapper.ReadFrom(r)
	case buffered:
		return fw.buf.ReadFrom(r)
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	return io.CopyBuffer(writerOnly{fw}, r, *buf)
}

// copyBuffers recycle the buffers of streamed and refused answers.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// FlushError flushes only what passes untouched: the stream filter writes the connection
// from its own goroutine, and a buffered body is written at the end.
func (fw *filterWriter) FlushError() error {
	if fw.wroteHeader && fw.mode == passThrough {
		return http.NewResponseController(&fw.ResponseWriterWrapper).Flush()
	}
	return nil
}

type writerOnly struct{ io.Writer }

// isJSON tells whether a Content-Type is application/json, with or without parameters,
// without the allocations of mime.ParseMediaType on every answer.
func isJSON(contentType string) bool {
	const mt = "application/json"
	if len(contentType) < len(mt) || !strings.EqualFold(contentType[:len(mt)], mt) {
		return false
	}
	rest := strings.TrimLeft(contentType[len(mt):], " \t")
	return rest == "" || rest[0] == ';'
}

// filterBuffers recycles the buffers of filtered answers.
var filterBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// finish ends the answer once the upstream handler returned: the buffered body filtered
// and sent, or the stream drained. A stream that cannot be filtered to its end is cut
// short, so the client sees a broken response rather than an unfiltered one.
func (fw *filterWriter) finish(upstreamErr error) error {
	switch fw.mode {
	case streamed:
		fw.pipe.CloseWithError(upstreamErr)
		if err := <-fw.filtered; err != nil || upstreamErr != nil {
			panic(http.ErrAbortHandler)
		}
		return nil
	case refused:
		return caddyhttp.Error(http.StatusBadGateway, fmt.Errorf("ciba_gate: upstream answered %s-encoded JSON, which the gate cannot filter", fw.Header().Get("Content-Encoding")))
	case buffered:
		defer filterBuffers.Put(fw.buf)
		if upstreamErr != nil {
			return upstreamErr
		}
		out, err := fw.adm.Consent.Filter(fw.buf.Bytes(), fw.adm.Endpoint)
		if err != nil {
			// A body the gate cannot read is not shown: it might hold what the consent hides.
			return caddyhttp.Error(http.StatusBadGateway, fmt.Errorf("ciba_gate: upstream body is not JSON: %w", err))
		}
		fw.Header().Set("Content-Length", strconv.Itoa(len(out)))
		fw.ResponseWriterWrapper.WriteHeader(fw.status)
		_, err = fw.ResponseWriterWrapper.Write(out)
		return err
	}
	return upstreamErr
}
