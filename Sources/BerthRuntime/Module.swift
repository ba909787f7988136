// BerthRuntime: populated by the runtime work (issue #3).
