/** An nginx size (client_max_body_size): bytes, or with a k, m or g suffix. Its own module: the site and code-server's parameters both use it. */
export const BODY_SIZE = /^[0-9]+[kKmMgG]?$/;
