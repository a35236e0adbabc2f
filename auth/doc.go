// Package auth hashes passwords (argon2id, PHC strings), issues and verifies
// HS256 session tokens (claims id, iat, jti, exp, session_stamp) and decides
// who may read or write a note. Tokens are revoked one at a time (jti, via
// storage) or all at once by rotating the account's session stamp.
package auth
