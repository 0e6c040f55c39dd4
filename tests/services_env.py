"""Print the environment `make test` runs the suite with: PostgreSQL and Redis when they answer.

Run as `eval "$(python -m tests.services_env)"`. A DATABASE_URL or REDIS_URL already set wins;
otherwise PostgreSQL and Redis on their usual loopback ports are used when they answer (the
database is created if needed), and SQLite and eager tasks when they do not.
"""

import os
import shlex
import socket

POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/ybiyri"
REDIS_URL = "redis://127.0.0.1:6379/0"


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def postgres_database_ready() -> bool:
    """Create the `ybiyri` database if it is missing; False if PostgreSQL refuses us."""
    import psycopg2

    try:
        connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    except psycopg2.Error:
        return False
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'ybiyri'")
            if cursor.fetchone() is None:
                cursor.execute("CREATE DATABASE ybiyri")
    finally:
        connection.close()
    return True


def main() -> None:
    exports = {}
    if not os.environ.get("DATABASE_URL") and answers(5432) and postgres_database_ready():
        exports["DATABASE_URL"] = POSTGRES_URL
    if not os.environ.get("REDIS_URL") and answers(6379):
        exports["REDIS_URL"] = REDIS_URL
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
