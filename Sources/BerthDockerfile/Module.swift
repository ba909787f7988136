// BerthDockerfile
