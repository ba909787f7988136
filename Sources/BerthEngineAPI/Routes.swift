import BerthEngine

/// Every endpoint of the API, by area; each area's routes live in its own file.
enum Routes {
    static func all(_ engine: Engine) -> [Route] {
        system(engine)
            + containers(engine)
            + containerIO(engine)
            + images(engine)
            + networks(engine)
            + volumes(engine)
    }
}
