export default ["packages/*", "scripts"]
