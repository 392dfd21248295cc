package caddyciba

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/op"
)

// filterBufferLimit: a JSON answer of known length up to this size is filtered in one
// piece and sent with its Content-Length, so whatever goes wrong is a clean 502; a longer
// one, or one of unknown length, is filtered as it streams.
const filterBufferLimit = 1 << 20

// What the filtering writer does with the bank's answer, chosen at WriteHeader.
const (
	undecided = iota
	buffered
	streamed
	// replaced: the bank's answer is never shown; the gate answers its own OB error.
	replaced
)

// filterWriter shows the TPP only what the consent's filter let through of the bank's
// answer. The bank's answer is shown only if it is a 200 of uncompressed
// application/json that the filter reads to its end; anything else is replaced, never
// passed through:
//
//   - another 2xx (a 206 to a Range, a 203…), a 1xx that is not informational (101), a 3xx
//     (its Location is not followed nor shown), a 200 of another type or encoding: 502.
//   - a 4xx or 5xx of the bank: its body is not shown (it could hold anything, account data
//     included); the gate answers its own OB error of the same meaning: 404 stays 404, 429
//     stays 429 (with a valid Retry-After), 401 and 407 (the gateway's own credentials at
//     the bank) and every 5xx are 502, any other 4xx keeps its status.
//
// Of the bank's headers only bankHeadersShown pass, on a 200; the gate's own answers
// have the headers the response had before the bank's.
//
// A buffered answer that fails is a clean 502. A streamed answer sends its 200 with the
// first bytes the filter writes out (its filter holds everything back until an item is
// kept), so one that fails before that — an item over max_item_size, a bad shape early —
// is a clean 502 too; one that fails later is aborted (http.ErrAbortHandler) so the TPP
// sees a broken transfer that never ends in valid JSON (the filter writes the closing
// brace last). Every refusal is logged with its cause.
type filterWriter struct {
	// A value, not a pointer: one allocation less on every gated answer.
	caddyhttp.ResponseWriterWrapper
	gate        *Gate
	adm         *op.Admission
	lim         consent.Limits
	own         http.Header // the headers before the bank's, for the gate's own answers
	mode        int
	wroteHeader bool
	status      int
	// The gate's own answer in replaced mode.
	ownStatus int
	ownCode   string
	ownMsg    string
	drained   int64
	buf       *bytes.Buffer
	pipe      *io.PipeWriter
	filtered  chan error
	filterErr error
	logged    bool
	// Once a 200 is being filtered, the handlers before see detached headers: reverse_proxy
	// writes the bank's trailers there after the body, and the real ones stay as the
	// 200's WriteHeader left them. A stream's goroutine sends them with its first bytes
	// (sent).
	detached http.Header
	sent     bool
}

// Header is the answer's header, or while a 200 is filtered a detached one.
func (fw *filterWriter) Header() http.Header {
	if fw.detached != nil {
		return fw.detached
	}
	return fw.ResponseWriterWrapper.Header()
}

func newFilterWriter(w http.ResponseWriter, g *Gate, adm *op.Admission) *filterWriter {
	return &filterWriter{
		ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w},
		gate:                  g, adm: adm, own: w.Header().Clone(),
		lim: consent.Limits{MaxValue: g.MaxItemSize, MaxBody: g.MaxBodySize},
	}
}

// serve runs the handlers after the gate (reverse_proxy) into the writer and ends the
// answer. reverse_proxy panics with http.ErrAbortHandler when the bank's body breaks; an
// answer not yet sent then becomes the gate's own error, a streamed one stays aborted
// once its filter stopped (nothing may write the connection after the handler).
func (fw *filterWriter) serve(r *http.Request, next caddyhttp.Handler) (err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if fw.mode == streamed {
			if fw.filtered != nil {
				fw.pipe.CloseWithError(errBankBroke)
				fw.streamFailed(errBankBroke)
			}
			if fw.sent || p != http.ErrAbortHandler {
				panic(p)
			}
			fw.refuseUnsentStream()
			return
		}
		if p != http.ErrAbortHandler {
			panic(p)
		}
		err = fw.finish(errBankBroke)
	}()
	return fw.finish(next.ServeHTTP(fw, r))
}

var errBankBroke = errors.New("the copy of the bank's body was aborted")

func (fw *filterWriter) WriteHeader(status int) {
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		return // informational: not passed on, the final answer is still to come
	}
	if fw.wroteHeader {
		return
	}
	fw.wroteHeader, fw.status = true, status
	h := fw.Header()
	ct, ce := h.Get("Content-Type"), h.Get("Content-Encoding")
	switch {
	case status == http.StatusOK && (len(h.Values("Content-Type")) != 1 || len(h.Values("Content-Encoding")) > 1):
		// The gate judges one value; the TPP's client might read another.
		fw.replace(http.StatusBadGateway, "bank answered 200 with Content-Type or Content-Encoding twice")
	case status == http.StatusOK && !isJSON(ct):
		fw.replace(http.StatusBadGateway, fmt.Sprintf("bank answered 200 of type %q", ct))
	case status == http.StatusOK && ce != "" && !strings.EqualFold(ce, "identity"):
		fw.replace(http.StatusBadGateway, fmt.Sprintf("bank answered %s-encoded JSON", ce))
	case status == http.StatusOK:
		fw.filter()
	case status == http.StatusNotFound:
		fw.mode, fw.ownStatus, fw.ownCode, fw.ownMsg = replaced, http.StatusNotFound, obie.CodeResourceNotFound, "Resource not found"
	case status == http.StatusTooManyRequests:
		fw.mode, fw.ownStatus, fw.ownCode, fw.ownMsg = replaced, status, obie.CodeUnexpectedError, "Too many requests at the bank"
	case status >= 400 && status < 500 && status != http.StatusUnauthorized && status != http.StatusProxyAuthRequired:
		fw.mode, fw.ownStatus, fw.ownCode, fw.ownMsg = replaced, status, obie.CodeUnexpectedError, "The bank refused the request"
	case status >= 500 && status < 600:
		fw.mode, fw.ownStatus, fw.ownCode, fw.ownMsg = replaced, http.StatusBadGateway, obie.CodeUnexpectedError, "The bank failed to answer"
		fw.logRefusal(fmt.Sprintf("bank answered %d", status))
	default:
		fw.replace(http.StatusBadGateway, fmt.Sprintf("bank answered %d, which the gate does not pass", status))
	}
}

// replace answers a 502 in place of the bank's answer, and logs why.
func (fw *filterWriter) replace(status int, cause string) {
	fw.mode, fw.ownStatus, fw.ownCode, fw.ownMsg = replaced, status, obie.CodeUnexpectedError, "The bank's answer cannot be shown"
	fw.logRefusal(cause)
}

// filter sets up the filter for a 200 of JSON: in one piece or as it streams.
func (fw *filterWriter) filter() {
	h := fw.Header()
	length := h.Get("Content-Length")
	fw.ownHeaders(bankHeadersShown...)
	fw.detached = make(http.Header)
	if n, err := strconv.ParseInt(length, 10, 64); err == nil && n <= filterBufferLimit {
		fw.mode = buffered
		fw.buf = filterBuffers.Get().(*bytes.Buffer)
		fw.buf.Reset()
		return
	}
	fw.mode = streamed
	pr, pw := io.Pipe()
	fw.pipe, fw.filtered = pw, make(chan error, 1)
	go func() {
		err := fw.adm.Consent.FilterStream(streamWriter{fw}, pr, fw.adm.Endpoint, fw.lim)
		pr.CloseWithError(err) // the bank's copy stops at once if the filter gave up
		fw.filtered <- err
	}()
}

// streamWriter is where the stream filter writes, from its goroutine: the 200 goes with
// the first bytes, and what it kept is flushed to the TPP on time.
type streamWriter struct{ fw *filterWriter }

func (s streamWriter) Write(p []byte) (int, error) {
	if !s.fw.sent {
		s.fw.sent = true
		s.fw.ResponseWriterWrapper.WriteHeader(http.StatusOK)
	}
	return s.fw.ResponseWriterWrapper.Write(p)
}

func (s streamWriter) FlushError() error {
	if !s.fw.sent {
		return nil
	}
	return http.NewResponseController(&s.fw.ResponseWriterWrapper).Flush()
}

var errRefusedBody = errors.New("ciba_gate: the bank's body is not shown")

func (fw *filterWriter) Write(p []byte) (int, error) {
	if !fw.wroteHeader {
		fw.WriteHeader(http.StatusOK)
	}
	switch fw.mode {
	case buffered:
		// The bank's client holds the body to its Content-Length; this is the backstop.
		if fw.buf.Len()+len(p) > filterBufferLimit {
			fw.replace(http.StatusBadGateway, "bank sent more than its Content-Length")
			return 0, errRefusedBody
		}
		return fw.buf.Write(p)
	case streamed:
		n, err := fw.pipe.Write(p)
		if err != nil {
			fw.streamFailed(nil)
		}
		return n, err
	}
	// A body that is not shown is read only so far: past the cap the copy stops, and
	// reverse_proxy then aborts the response.
	if fw.drained += int64(len(p)); fw.drained > fw.lim.MaxBody {
		fw.logRefusal("bank's refused body is over max_body_size")
		return 0, errRefusedBody
	}
	return len(p), nil
}

// ReadFrom keeps io.Copy (reverse_proxy's copy of the bank's body) from going around
// Write to the connection, without a copy buffer of its own per answer.
func (fw *filterWriter) ReadFrom(r io.Reader) (int64, error) {
	if !fw.wroteHeader {
		fw.WriteHeader(http.StatusOK)
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	return io.CopyBuffer(writerOnly{fw}, r, *buf)
}

// copyBuffers recycle the buffers of the bank's bodies.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// FlushError does nothing: the stream filter flushes the connection from its own goroutine,
// and nothing else is written before the end.
func (fw *filterWriter) FlushError() error { return nil }

type writerOnly struct{ io.Writer }

// isJSON tells whether a Content-Type is application/json, bare (without the allocations
// of mime.ParseMediaType on every answer) or with no parameter but charset=utf-8.
func isJSON(contentType string) bool {
	const mt = "application/json"
	if len(contentType) < len(mt) || !strings.EqualFold(contentType[:len(mt)], mt) {
		return false
	}
	rest := strings.TrimLeft(contentType[len(mt):], " \t")
	if rest == "" {
		return true
	}
	if rest[0] != ';' {
		return false
	}
	// JSON is UTF-8 (RFC 8259): a TPP told another charset would read other text than the
	// filter did.
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// filterBuffers recycles the buffers of the bank's answers, filterOutputs those of what
// the filter kept of them.
var (
	filterBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	filterOutputs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
)

// finish ends the answer once the bank's handler returned: the buffered body filtered and
// sent, the stream drained, or the gate's own answer written.
func (fw *filterWriter) finish(upstreamErr error) error {
	switch fw.mode {
	case undecided:
		if upstreamErr != nil {
			return upstreamErr
		}
		// The handlers after wrote nothing: reverse_proxy does so when the bank switched
		// protocols unasked. No answer of the bank is a 200.
		fw.replace(http.StatusBadGateway, "bank gave no answer")
	case streamed:
		fw.pipe.CloseWithError(upstreamErr)
		fw.streamFailed(upstreamErr)
		if fw.filterErr == nil && upstreamErr == nil {
			return nil
		}
		if fw.sent {
			panic(http.ErrAbortHandler)
		}
		fw.refuseUnsentStream()
		return nil
	case buffered:
		defer filterBuffers.Put(fw.buf)
		if upstreamErr != nil {
			fw.replace(http.StatusBadGateway, "bank's body broke: "+upstreamErr.Error())
			break
		}
		out := filterOutputs.Get().(*[]byte)
		defer filterOutputs.Put(out)
		kept, err := fw.adm.Consent.AppendFilter((*out)[:0], fw.buf.Bytes(), fw.adm.Endpoint, fw.lim)
		*out = kept[:0] // the buffer as it grew, for the next answer
		if err != nil {
			fw.replace(http.StatusBadGateway, err.Error())
			break
		}
		fw.detached = nil
		fw.Header().Set("Content-Length", strconv.Itoa(len(kept)))
		fw.ResponseWriterWrapper.WriteHeader(http.StatusOK)
		_, err = fw.ResponseWriterWrapper.Write(kept)
		return err
	}
	fw.answerOwn()
	return nil
}

// refuseUnsentStream answers the gate's 502 for a stream that failed before it sent
// anything (streamFailed logged why); its filter has ended.
func (fw *filterWriter) refuseUnsentStream() {
	fw.mode, fw.ownStatus, fw.ownCode, fw.ownMsg = replaced, http.StatusBadGateway, obie.CodeUnexpectedError, "The bank's answer cannot be shown"
	fw.answerOwn()
}

// streamFailed waits for the stream filter to end (so nothing writes the connection after
// the handler) and logs why the stream failed, if it did.
func (fw *filterWriter) streamFailed(upstreamErr error) {
	if fw.filtered != nil {
		fw.filterErr, fw.filtered = <-fw.filtered, nil
	}
	switch {
	case fw.filterErr != nil:
		fw.logRefusal("filtered stream cut short: " + fw.filterErr.Error())
	case upstreamErr != nil:
		fw.logRefusal("filtered stream cut short: bank's body broke: " + upstreamErr.Error())
	}
}

// bankHeadersShown are the only headers of the bank's 200 that reach the TPP: the others
// could carry what the filter removes from the body (and Content-Length, ETag, digests or
// a Content-Range describe the bank's body, not the filtered one).
var bankHeadersShown = []string{"Content-Type", "Cache-Control", "Pragma", "Expires", "Vary"}

// ownHeaders sets the answer's headers back to those it had before the bank's, keeping
// of the bank's only those named.
func (fw *filterWriter) ownHeaders(keep ...string) {
	h := fw.Header()
	kept := make([][]string, len(keep))
	for i, k := range keep {
		kept[i] = h.Values(k)
	}
	clear(h)
	for k, v := range fw.own {
		h[k] = v
	}
	for i, k := range keep {
		if len(kept[i]) > 0 {
			h[http.CanonicalHeaderKey(k)] = kept[i]
		}
	}
}

// answerOwn writes the gate's own OB error in place of the bank's answer, with the
// headers the answer had before the bank's (a 429 keeps a valid Retry-After).
func (fw *filterWriter) answerOwn() {
	fw.detached = nil
	retry := fw.Header().Get("Retry-After")
	fw.ownHeaders()
	if fw.ownStatus == http.StatusTooManyRequests {
		_, secondsErr := strconv.ParseUint(retry, 10, 32)
		_, dateErr := http.ParseTime(retry)
		if secondsErr == nil || dateErr == nil {
			fw.Header().Set("Retry-After", retry)
		}
	}
	if fw.ownStatus == http.StatusBadGateway {
		op.GateError.Inc()
	}
	obie.WriteError(&fw.ResponseWriterWrapper, obie.New(fw.ownStatus, fw.ownMsg, obie.Item{ErrorCode: fw.ownCode, Message: fw.ownMsg}))
}

// logRefusal logs once why the bank's answer was not shown, without its content.
func (fw *filterWriter) logRefusal(cause string) {
	if fw.logged || fw.gate.logger == nil {
		return
	}
	fw.logged = true
	if len(cause) > 300 {
		cause = cause[:300] + "…"
	}
	fw.gate.logger.Error("bank answer refused",
		zap.String("cause", cause),
		zap.Int("bank_status", fw.status),
		zap.String("endpoint", string(fw.adm.Endpoint.Resource)),
		zap.String("consent_id", fw.adm.Consent.ID),
		zap.String("interaction_id", fw.own.Get(interactionHeader)))
}
