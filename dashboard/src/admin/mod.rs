//! codis-admin.
pub fn main(_args: Vec<String>) -> i32 {
    1
}
