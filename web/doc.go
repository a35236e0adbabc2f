// Package web serves the operational endpoints (/healthz, /metrics), the
// request metrics middleware, and the embedded browser app (web/dist) at /.
package web
