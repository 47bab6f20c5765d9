/// Facts about this build of Volley.
public enum Volley {
    /// The version, as `volley --version` prints it and the Debian package carries it.
    public static let version = "0.5.0"
}
