// BerthStore
