from busybox
run echo lower
Copy a b
