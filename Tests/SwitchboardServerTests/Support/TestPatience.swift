/// How long a test waits for something that should happen. Passing tests return as soon as it does; the
/// bound only decides how long a failure takes. It is generous because CI runs every suite at once on two
/// cores, the Autobahn runs included, and a loaded machine can delay a loopback answer by seconds.
enum TestPatience {
    static let `default`: Duration = .seconds(15)
}
