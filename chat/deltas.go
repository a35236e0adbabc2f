package chat

import (
	"bytes"
	"encoding/json"
)

// Delta is what one chunk of a streamed answer adds.
type Delta struct {
	// Content is text to append to the answer.
	Content string
	// Reasoning is text to append to the model's reasoning
	// (reasoning_content, reasoning or thinking, as upstreams name it).
	Reasoning string
	// Usage is the upstream's token count object, when the chunk carried
	// one (usually the last, with stream_options.include_usage).
	Usage json.RawMessage
	// FinishReason is why the answer ended ("stop", "length", …), on the
	// chunk that says so.
	FinishReason string
}

func (d *Delta) empty() bool {
	return d.Content == "" && d.Reasoning == "" && d.Usage == nil && d.FinishReason == ""
}

// StreamError is an error event an upstream sent in the middle of its
// stream (`data: {"error": {…}}`).
type StreamError struct {
	Message string // summary of the upstream's message, safe to show
}

func (e *StreamError) Error() string { return "the model server reported an error: " + e.Message }

// chunk is the part of an OpenAI chat.completion.chunk that Deltas reads.
type chunk struct {
	Choices []struct {
		Delta struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
			Reasoning        string `json:"reasoning"`
			Thinking         string `json:"thinking"`
		} `json:"delta"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage json.RawMessage `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// Deltas reads a streamed answer and calls fn with what each chunk adds
// (first choice only), in order, until `data: [DONE]` (or the body's clean
// end after a finish_reason: endsClean); then it returns nil. Memory is
// one event, bounded as a line is (MaxLineBytes). A chunk that is not
// JSON, or adds nothing, is skipped. fn's error ends the reading and is
// returned as is. An error event of the upstream ends it with a
// *StreamError; an upstream fault with ErrStopped, ErrStalled,
// ErrTruncated or ErrLineTooLong; the end of the request's context with
// its cause. The caller still calls Close.
func (r *Response) Deltas(fn func(Delta) error) error {
	lines := r.lines()
	var event []byte // the event's data lines, joined by "\n"
	inEvent := false
	finished := false // a chunk gave a finish_reason
	take := func(d Delta) error {
		finished = finished || d.FinishReason != ""
		return fn(d)
	}
	for {
		line, err := lines.next()
		if err == nil && inEvent && len(event)+len(line) >= r.c.cfg.MaxLineBytes {
			err = ErrLineTooLong // an event of many lines, never ended
		}
		if err != nil {
			if !inEvent && lines.endsClean(err, finished) {
				return nil
			}
			if isFault(err) {
				r.logFault(err)
			}
			return err
		}
		if len(line) == 0 {
			if !inEvent {
				continue
			}
			inEvent = false
			if err := r.delta(event, take); err != nil {
				return err
			}
			event = event[:0]
			continue
		}
		data, ok := dataOf(line)
		if !ok {
			continue
		}
		if !inEvent && bytes.Equal(data, done) {
			return nil
		}
		if inEvent {
			event = append(event, '\n')
		}
		event = append(event, data...)
		inEvent = true
	}
}

// delta decodes one event and hands what it adds to fn.
func (r *Response) delta(event []byte, fn func(Delta) error) error {
	var c chunk
	if err := json.Unmarshal(event, &c); err != nil {
		r.c.log.DebugContext(r.ctx, "upstream chunk is not JSON; skipped", "upstream", r.upstream, "err", err)
		return nil
	}
	if len(c.Error) > 0 && !bytes.Equal(c.Error, []byte("null")) {
		err := &StreamError{Message: summarize(bytes.NewReader(event))}
		r.logFault(err)
		return err
	}
	var d Delta
	if len(c.Choices) > 0 {
		ch := &c.Choices[0]
		d.Content = ch.Delta.Content
		d.Reasoning = ch.Delta.ReasoningContent + ch.Delta.Reasoning + ch.Delta.Thinking
		d.FinishReason = ch.FinishReason
	}
	if len(c.Usage) > 0 && !bytes.Equal(c.Usage, []byte("null")) {
		d.Usage = append(json.RawMessage(nil), c.Usage...)
	}
	if d.empty() {
		return nil
	}
	return fn(d)
}
