package chat

// KillTasks makes r stop beating and listening, its tasks still running
// and listed, as a killed process leaves them.
func KillTasks(r *TasksRedis) { r.kill() }
