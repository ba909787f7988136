import BerthEngine
import Foundation

/// The CLI's name for the engine's `DockerTime`.
typealias TimeArgument = DockerTime
