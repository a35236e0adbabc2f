// Package api serves Quire's REST endpoints under /api/v1/ (accounts,
// users, notes) in Open WebUI's JSON shapes. Every error is
// {"detail": "..."} with a 4xx status for bad input; bodies are size-capped
// and decoded strictly (unknown fields ignored, wrong types refused).
//
// Notes a caller may not read answer 404, exactly as unknown ids, so that
// note ids cannot be probed; notes a caller may read but not change answer
// 403 to a change.
package api
